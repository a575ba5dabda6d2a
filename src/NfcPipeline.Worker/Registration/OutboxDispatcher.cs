using MassTransit;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Analysis;
using NfcPipeline.Worker.Completion;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Registration;

/// <summary>
/// Publishes chunk jobs and completion events that were committed but never published (a crash or broker outage
/// between the two). While this worker cannot read the share, chunks stay in the outbox: one waiting for the share
/// is published again once it is back (or by a worker that can read it), not every Worker:RepublishAfter.
/// </summary>
public sealed class OutboxDispatcher(IServiceScopeFactory scopes, JobStore jobs, CompletionEventStore events, CompletionEventPublisher publisher,
    IBus bus, ShareAvailability share, ChunksInFlight inFlight, WorkerIdentity identity, WorkerOptions options, ILogger<OutboxDispatcher> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, options.RepublishAfter.Ticks / 3));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, stoppingToken);
                // A publish gives up after RepublishAfter; a claim outlives that, so no other dispatcher publishes the
                // jobs meanwhile, and expires after it, should this process die before it publishes or releases.
                await PublishEventsAsync(stoppingToken);
                await RecoverOrphanedAsync(stoppingToken);
                if (await share.ProblemAsync(stoppingToken) is not null) continue;
                var pending = await jobs.ClaimUnpublishedAsync(options.RepublishAfter, 2 * options.RepublishAfter, 100, stoppingToken);
                if (pending.Count == 0) continue;
                await using var scope = scopes.CreateAsyncScope();
                try { await scope.ServiceProvider.GetRequiredService<WorkPublisher>().PublishAsync(pending, stoppingToken); }
                catch (Exception ex)
                {
                    // WorkPublisher released the claims.
                    if (ex is OperationCanceledException && !stoppingToken.IsCancellationRequested)
                    {
                        logger.LogWarning("Outbox pass gave up: the broker did not confirm {Count} chunk jobs within {Timeout}", pending.Count, options.RepublishAfter);
                        continue;
                    }
                    throw;
                }
                logger.LogWarning("Published {Count} chunk jobs that had been committed but not published", pending.Count);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
            catch (Exception ex) when (DatabaseRetry.IsTransient(ex) || ex is MassTransitException)
            {
                logger.LogWarning("Outbox pass skipped: {Error}", ex.Message);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Anything else (a statement timeout, a row this version cannot read) would stop the host, and with it
                // every worker in turn: logged, and the next pass tries again.
                logger.LogError(ex, "Outbox pass failed");
            }
        }
    }

    /// <summary>
    /// This worker's chunk jobs left 'processing' with no consumer holding them (Worker:OrphanedChunkAfter), and any
    /// worker's left by a worker that is gone (Worker:AbandonedChunkAfter): published again by this pass or the next,
    /// where before only `nfc requeue --stalled` did.
    /// </summary>
    private async Task RecoverOrphanedAsync(CancellationToken stoppingToken)
    {
        var recovered = await jobs.RecoverOrphanedAsync(identity.Id, inFlight.HeldOrReleasedWithin(options.OrphanedChunkAfter),
            options.OrphanedChunkAfter, stoppingToken);
        if (recovered.Count > 0)
            logger.LogWarning("{Count} chunk job(s) left processing under this worker without their message (a fault not recorded through a " +
                "database outage) sent back to the outbox: {Jobs}", recovered.Count, string.Join(", ", recovered));
        var abandoned = await jobs.RecoverAbandonedAsync(identity.Id, options.AbandonedChunkAfter, options.AliveWithin, stoppingToken);
        if (abandoned.Count > 0)
            logger.LogWarning("{Count} chunk job(s) left processing by a worker that is gone, whose message was not delivered again within " +
                "{Window}, sent back to the outbox: {Jobs}", abandoned.Count, options.AbandonedChunkAfter, string.Join(", ", abandoned));
    }

    /// <summary>Completion events whose publish failed, or whose worker died before publishing, in the order they were stored.</summary>
    private async Task PublishEventsAsync(CancellationToken stoppingToken)
    {
        var pending = await events.ClaimUnpublishedAsync(options.RepublishAfter, 2 * options.RepublishAfter, 100, stoppingToken);
        if (pending.Count == 0) return;
        try { await publisher.PublishAsync(pending, bus, stoppingToken); }
        catch (Exception ex) when (ex is OperationCanceledException && !stoppingToken.IsCancellationRequested || ex is MassTransitException)
        {
            logger.LogWarning("Outbox pass: {Count} completion events not all published: {Error}", pending.Count, ex.Message);
            return;
        }
        logger.LogWarning("Published {Count} completion events that had been committed but not published", pending.Count);
    }
}
