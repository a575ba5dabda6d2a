using MassTransit;

namespace NfcPipeline.Dashboard.Hosting;

/// <summary>
/// A publish made while answering a request. MassTransit waits for a connection, so with the broker away the request
/// (a script's with it) would hang: it is given up after <see cref="Timeout"/>, and the caller answers 503.
/// </summary>
public static class BoundedPublish
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>False when RabbitMQ did not take the message in time (it may still arrive: a publish cannot be recalled).</summary>
    public static Task<bool> TryPublishAsync<T>(IPublishEndpoint bus, T message, Guid? messageId, CancellationToken ct) where T : class =>
        BoundedAsync(t => bus.Publish(message, context => { if (messageId is { } id) context.MessageId = id; }, t), ct);

    private static async Task<bool> BoundedAsync(Func<CancellationToken, Task> publish, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(Timeout);
        try { await publish(bounded.Token); }
        catch (Exception ex) when (ex is OperationCanceledException && !ct.IsCancellationRequested || ex is MassTransitException) { return false; }
        return true;
    }
}

/// <summary>
/// Publishes made inside one database transaction (a requeue of up to 20,000 jobs, a scan request): they give up once
/// none has been confirmed for <see cref="BoundedPublish.Timeout"/> (throwing <see cref="BrokerUnavailableException"/>,
/// so the transaction rolls back rather than hold its locks, which workers wait on, for as long as the broker is away),
/// not when one has waited that long, which a bulk requeue on a busy but working broker would. The count starts with
/// the first publish: the locks and updates before it (a bulk requeue's) are no broker's stall. The CLI's requeue and
/// enqueue publish through it too.
/// </summary>
public sealed class StallGuardedPublisher(IPublishEndpoint bus) : IDisposable
{
    private readonly CancellationTokenSource _stalled = new();
    private bool _started;

    public async Task PublishAsync(object message, CancellationToken ct)
    {
        if (!_started)
        {
            _stalled.CancelAfter(BoundedPublish.Timeout);
            _started = true;
        }
        using var publish = CancellationTokenSource.CreateLinkedTokenSource(ct, _stalled.Token);
        try { await bus.Publish(message, message.GetType(), publish.Token); }
        catch (Exception ex) when (ex is OperationCanceledException && !ct.IsCancellationRequested || ex is MassTransitException)
        {
            throw new BrokerUnavailableException($"RabbitMQ did not confirm a message for {BoundedPublish.Timeout.TotalSeconds:0} s, or refused it", ex);
        }
        _stalled.CancelAfter(BoundedPublish.Timeout);   // progress: the stall is counted from here
    }

    public void Dispose() => _stalled.Dispose();
}

/// <summary>RabbitMQ did not take a message in time, or refused it (a MassTransitException, as callers catch those).</summary>
public sealed class BrokerUnavailableException(string message, Exception inner) : MassTransitException(message, inner);
