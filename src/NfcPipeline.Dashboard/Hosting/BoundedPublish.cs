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
    public static Task<bool> TryPublishAsync<T>(IPublishEndpoint bus, T message, Guid? messageId, CancellationToken ct) where T : class =>
        BoundedAsync(t => bus.Publish(message, context => { if (messageId is { } id) context.MessageId = id; }, t), ct);

    /// <summary>
    /// For a publish inside a database transaction (a requeue, a scan request): throws <see cref="BrokerUnavailableException"/>
    /// when RabbitMQ did not take the message in time, so the transaction rolls back rather than hold its locks, which
    /// workers wait on, for as long as the broker is away.
    /// </summary>
    public static async Task PublishOrThrowAsync(IPublishEndpoint bus, object message, CancellationToken ct)
    {
        if (!await BoundedAsync(t => bus.Publish(message, message.GetType(), t), ct))
            throw new BrokerUnavailableException($"RabbitMQ did not take the request within {Timeout.TotalSeconds:0} s");
    }

    private static async Task<bool> BoundedAsync(Func<CancellationToken, Task> publish, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(Timeout);
        try { await publish(bounded.Token); }
        catch (Exception ex) when (ex is OperationCanceledException && !ct.IsCancellationRequested || ex is MassTransitException) { return false; }
        return true;
    }
}

/// <summary>RabbitMQ did not take a message within <see cref="BoundedPublish.Timeout"/>.</summary>
internal sealed class BrokerUnavailableException(string message) : Exception(message);
