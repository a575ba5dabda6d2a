using System.CommandLine;
using MassTransit;
using NfcPipeline.Contracts;

namespace NfcPipeline.Cli.Commands;

/// <summary>A short-lived RabbitMQ bus for verbs that publish (enqueue, requeue).</summary>
internal sealed class CliBus : IAsyncDisposable
{
    private readonly IBusControl _bus;
    // A requeue publishes inside a transaction holding locks workers wait on: a broker that stops confirming (a
    // memory alarm) must end it, not hold them for as long as it lasts.
    private readonly NfcPipeline.Dashboard.Hosting.StallGuardedPublisher _publisher;

    private CliBus(IBusControl bus)
    {
        _bus = bus;
        _publisher = new NfcPipeline.Dashboard.Hosting.StallGuardedPublisher(bus);
    }

    public static Option<string?> RabbitOption() => new("--rabbit")
    {
        Description = $"RabbitMQ URI. Default: NFC_RABBIT_URI, else {RabbitMqAddress.LocalDefault}",
    };

    /// <summary>The broker's address (--rabbit, else NFC_RABBIT_URI, else the local default); a malformed one is a usage error.</summary>
    public static Uri Address(string? uri = null)
    {
        Uri address;
        try { address = RabbitMqAddress.Resolve(uri); }
        catch (UriFormatException ex) { throw new CliUsageException($"the RabbitMQ URI is malformed: {ex.Message} (--rabbit or NFC_RABBIT_URI)"); }
        return address;
    }

    public static async Task<CliBus> StartAsync(string? uri, CancellationToken ct)
    {
        var address = Address(uri);
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(address));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await bus.StartAsync(timeout.Token);
        return new CliBus(bus);
    }

    /// <summary>Gives up with a BrokerUnavailableException (a MassTransitException) once nothing was confirmed for 10 s.</summary>
    public Task PublishAsync(object message, CancellationToken ct) => _publisher.PublishAsync(message, ct);

    public async ValueTask DisposeAsync()
    {
        _publisher.Dispose();
        // Bounded: a broker that stopped confirming (a memory alarm) may not answer the close either, and the verb has
        // already said what happened; it must exit, not hang until the shutdown grace runs out.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await _bus.StopAsync(limit.Token); }
        catch (OperationCanceledException) { }
    }
}
