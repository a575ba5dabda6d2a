using System.CommandLine;
using MassTransit;

namespace NfcPipeline.Cli.Commands;

/// <summary>A short-lived RabbitMQ bus for verbs that publish (enqueue, requeue).</summary>
internal sealed class CliBus : IAsyncDisposable
{
    public const string DefaultUri = "amqp://guest:guest@127.0.0.1:35672/";
    private readonly IBusControl _bus;

    private CliBus(IBusControl bus) => _bus = bus;

    public static Option<string?> RabbitOption() => new("--rabbit")
    {
        Description = $"RabbitMQ URI. Default: NFC_RABBIT_URI, else {DefaultUri}",
    };

    public static async Task<CliBus> StartAsync(string? uri, CancellationToken ct)
    {
        var resolved = uri is { Length: > 0 } ? uri : Environment.GetEnvironmentVariable("NFC_RABBIT_URI") is { Length: > 0 } e ? e : DefaultUri;
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(new Uri(resolved)));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await bus.StartAsync(timeout.Token);
        return new CliBus(bus);
    }

    public Task PublishAsync(object message, CancellationToken ct) => _bus.Publish(message, message.GetType(), ct);

    public async ValueTask DisposeAsync() => await _bus.StopAsync();
}
