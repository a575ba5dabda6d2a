using MassTransit;

namespace NfcPipeline.Dashboard.Hosting;

/// <summary>
/// A publish made while answering a request. MassTransit waits for a connection, so with the broker away the request
/// (a script's with it) would hang: it is given up after <see cref="Timeout"/>, and the caller answers 503.
/// </summary>
internal static class BoundedPublish
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>False when RabbitMQ did not take the message in time (it may still arrive: a publish cannot be recalled).</summary>
    public static async Task<bool> TryPublishAsync<T>(IPublishEndpoint bus, T message, Guid? messageId, CancellationToken ct) where T : class
    {
        using var publish = CancellationTokenSource.CreateLinkedTokenSource(ct);
        publish.CancelAfter(Timeout);
        try { await bus.Publish(message, context => { if (messageId is { } id) context.MessageId = id; }, publish.Token); }
        catch (Exception ex) when (ex is OperationCanceledException && !ct.IsCancellationRequested || ex is MassTransitException) { return false; }
        return true;
    }
}
