using System.CommandLine;
using MassTransit;
using NfcPipeline.Contracts;

namespace NfcPipeline.Cli.Commands;

/// <summary>A short-lived RabbitMQ bus for verbs that publish (enqueue, requeue).</summary>
internal sealed class CliBus : IAsyncDisposable
{
    private readonly IBusControl _bus;

    private CliBus(IBusControl bus) => _bus = bus;

    public static Option<string?> RabbitOption() => new("--rabbit")
    {
        Description = $"RabbitMQ URI. Default: NFC_RABBIT_URI, else {RabbitMqAddress.LocalDefault}",
    };

    public static async Task<CliBus> StartAsync(string? uri, CancellationToken ct)
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(RabbitMqAddress.Resolve(uri)));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await bus.StartAsync(timeout.Token);
        return new CliBus(bus);
    }

    public Task PublishAsync(object message, CancellationToken ct) => _bus.Publish(message, message.GetType(), ct);

    public async ValueTask DisposeAsync() => await _bus.StopAsync();
}
