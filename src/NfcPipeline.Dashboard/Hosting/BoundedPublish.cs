using MassTransit;

namespace NfcPipeline.Dashboard.Hosting;

/// <summary>
/// A publish made while answering a request. MassTransit waits for a connection, so with the broker away the request
/// (a script's with it) would hang: it is given up after <see cref="Timeout"/>, and the caller answers 503.
/// </summary>
public static class BoundedPublish
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Null when RabbitMQ took the message; otherwise why not, naming it as <paramref name="what"/>: not in time (it
    /// may still arrive: a publish cannot be recalled), or returned for want of a queue (<see cref="Mandatory"/>).
    /// </summary>
    public static async Task<PublishFailure?> TryPublishAsync<T>(IPublishEndpoint bus, T message, Guid? messageId, string what, CancellationToken ct)
        where T : class
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(Timeout);
        try
        {
            await bus.Publish(message, context =>
            {
                Mandatory(context);
                if (messageId is { } id) context.MessageId = id;
            }, bounded.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException && !ct.IsCancellationRequested || ex is MassTransitException)
        {
            return PublishFailure.Of(ex, what, $"RabbitMQ did not take the {what} within {Timeout.TotalSeconds:0} s");
        }
        return null;
    }

    /// <summary>
    /// Publishes a work message as mandatory: with no queue bound to its exchange (no worker has started on this
    /// broker or vhost yet, or the broker was reset) RabbitMQ returns it and the publish fails, where otherwise it
    /// was confirmed and dropped: a submission answered 202, a requeued job stamped published, and nothing to run them.
    /// </summary>
    public static void Mandatory(PublishContext context)
    {
        if (context.TryGetPayload<RabbitMqSendContext>(out var rabbit)) rabbit.Mandatory = true;
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
        try { await bus.Publish(message, message.GetType(), Pipe.Execute<PublishContext>(BoundedPublish.Mandatory), publish.Token); }
        catch (Exception ex) when (ex is OperationCanceledException && !ct.IsCancellationRequested || ex is MassTransitException)
        {
            throw new BrokerUnavailableException(
                PublishFailure.Of(ex, "message", $"RabbitMQ did not confirm a message for {BoundedPublish.Timeout.TotalSeconds:0} s, or refused it"), ex);
        }
        _stalled.CancelAfter(BoundedPublish.Timeout);   // progress: the stall is counted from here
    }

    public void Dispose() => _stalled.Dispose();
}

/// <summary>
/// Why RabbitMQ did not take a message: not in time (<see cref="NoQueue"/> false: it may still arrive, and trying again
/// shortly may do), or returned for want of a queue (no worker has started on the broker: trying again cannot help
/// until one has).
/// </summary>
public sealed record PublishFailure(string Reason, bool NoQueue)
{
    /// <summary>The reason and what to do about it, as one sentence's end.</summary>
    public string WithAdvice(string retry) => NoQueue ? $"{Reason}; start a worker, then {retry}" : $"{Reason}; {retry} shortly";

    /// <summary>The failure a publish's exception stands for: the message returned (<see cref="BoundedPublish.Mandatory"/>), or <paramref name="notTaken"/>.</summary>
    internal static PublishFailure Of(Exception ex, string what, string notTaken) =>
        ex is MessageReturnedException || ex.InnerException is MessageReturnedException
            ? new($"RabbitMQ has no queue for the {what}: no worker has started on this broker yet (or it was reset)", NoQueue: true)
            : new(notTaken, NoQueue: false);
}

/// <summary>RabbitMQ did not take a message in time, or refused it (a MassTransitException, as callers catch those).</summary>
public sealed class BrokerUnavailableException(PublishFailure failure, Exception inner)
    : MassTransitException(failure.NoQueue ? failure.WithAdvice("try again") : failure.Reason, inner)
{
    /// <summary>No queue took the message: no worker has started on the broker, and trying again cannot help until one has.</summary>
    public bool NoQueue => failure.NoQueue;
}
