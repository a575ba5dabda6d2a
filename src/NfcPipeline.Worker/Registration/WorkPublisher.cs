using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Registration;

/// <summary>
/// Publishes committed chunk jobs and stamps them published (the jobs table is the outbox). A publish the broker has
/// not confirmed within Worker:RepublishAfter gives up (OperationCanceledException), well inside the claim's lease of
/// twice that, so no outbox pass publishes the same chunks while it waits.
/// </summary>
public sealed class WorkPublisher(IPublishEndpoint bus, JobStore jobs, DatabaseRetry retry, WorkerOptions options)
{
    public async Task PublishAsync(IReadOnlyList<ChunkJob> chunks, CancellationToken ct)
    {
        if (chunks.Count == 0) return;
        using var timeout = options.PublishDeadline(ct);
        // Concurrently: each publish waits for the broker's confirm, and the first chunk's work should not wait for the rest.
        var publishes = chunks.Select(chunk => PublishOne(chunk, timeout.Token)).ToList();
        try
        {
            await Task.WhenAll(publishes);
        }
        catch
        {
            // The confirmed ones are stamped (published again, they would be duplicates that another worker, seeing the
            // first still running, counts as an abandoned start); the rest are unclaimed, so the next outbox pass
            // publishes them after Worker:RepublishAfter, not after the claim's lease.
            var confirmed = chunks.Where((_, i) => publishes[i].IsCompletedSuccessfully).ToList();
            try
            {
                if (confirmed.Count > 0) await jobs.MarkPublishedAsync(confirmed, CancellationToken.None);
                await jobs.ReleaseAsync(chunks.Where((_, i) => !publishes[i].IsCompletedSuccessfully).ToList(), CancellationToken.None);
            }
            catch (Exception ex) when (DatabaseRetry.IsTransient(ex)) { }   // the lease expires all the same
            throw;
        }
        // Confirmed by the broker: stamped even when the worker is stopping meanwhile (its token cancelled), or every
        // chunk would be published again by the outbox, a duplicate of work already delivered.
        await retry.RunAsync(t => jobs.MarkPublishedAsync(chunks, t), CancellationToken.None);
    }

    /// <summary>One chunk's publish as a task, also when the bus throws before it has one: each is stamped or released.</summary>
    private Task PublishOne(ChunkJob chunk, CancellationToken ct)
    {
        try
        {
            return bus.Publish<AnalyzeImages>(new() { JobId = chunk.JobId, StudyDbId = chunk.StudyId, ImageIds = chunk.ImageIds, Reanalyze = chunk.Reanalyze, QueuedAt = chunk.QueuedAt },
                c => MandatoryPublish.Apply(c), ct);
        }
        catch (Exception ex) { return Task.FromException(ex); }
    }
}
