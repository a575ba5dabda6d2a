using MassTransit;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Completion;

/// <summary>
/// Publishes stored completion events in order and stamps each published one. It gives up after Worker:RepublishAfter,
/// well inside the claims' lease, so no outbox pass publishes them meanwhile; the ones not published are released to
/// the next outbox pass, and the failure is thrown.
/// </summary>
public sealed class CompletionEventPublisher(CompletionEventStore events, DatabaseRetry retry, WorkerOptions options)
{
    public async Task PublishAsync(IReadOnlyList<PendingEvent> stored, IPublishEndpoint bus, CancellationToken ct)
    {
        using var timeout = options.PublishDeadline(ct);
        int published = 0;
        try
        {
            for (; published < stored.Count; published++)
                await bus.Publish(stored[published].Message, stored[published].Message.GetType(), timeout.Token);
        }
        catch
        {
            // Best effort: an unstamped event goes out again, an unreleased claim expires; either way none is lost.
            try
            {
                if (published > 0) await events.MarkPublishedAsync(stored.Take(published).ToList(), CancellationToken.None);
                await events.ReleaseAsync(stored.Skip(published).ToList(), CancellationToken.None);
            }
            catch (Exception ex) when (DatabaseRetry.IsTransient(ex)) { }
            throw;
        }
        // Not under ct: the broker confirmed them, and a stop landing now would leave them to go out again (as WorkPublisher).
        // The database away past its budget here is told apart from the broker's failures (EventStampException).
        try { await retry.RunAsync(t => events.MarkPublishedAsync(stored, t), CancellationToken.None); }
        catch (Exception ex) when (DatabaseRetry.IsTransient(ex)) { throw new EventStampException(ex); }
    }

    /// <summary>Gives up the claims of stored events left unpublished, so the next outbox pass takes them.</summary>
    public Task ReleaseAsync(IReadOnlyList<PendingEvent> stored, CancellationToken ct) => events.ReleaseAsync(stored.ToList(), ct);
}

/// <summary>Events the broker confirmed whose publish could not be recorded (the database away past its retry budget).</summary>
public sealed class EventStampException(Exception inner)
    : Exception("Published events could not be stamped published (the database is away); they go out again from the outbox.", inner);
