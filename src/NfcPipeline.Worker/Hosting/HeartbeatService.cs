using System.Text.Json;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Analysis;

namespace NfcPipeline.Worker.Hosting;

/// <summary>Records this worker's heartbeat, throughput and last batch in workers; marks it stopped on shutdown.</summary>
public sealed class HeartbeatService(WorkerStore workers, WorkerIdentity identity, ModelHost model, WorkerMetrics metrics,
    WorkerOptions options, ILogger<HeartbeatService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.HeartbeatInterval);
        do
        {
            try
            {
                // Three intervals each, so the beat lands inside the window peers count this worker alive in (four): a
                // half-open connection held one beat for 45 s (connect and command timeouts), past that window.
                using var beat = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                beat.CancelAfter(options.AliveWithin - options.HeartbeatInterval);
                // A worker away (suspended, or cut off from the database) for longer than housekeeping keeps silent ones
                // had its row deleted: without it, redeliveries of its chunks would take it for dead.
                if (!await workers.HeartbeatAsync(identity.Id, metrics.ImagesProcessed, LastBatch(), "running", beat.Token) && model.IsLoaded)
                {
                    await model.RegisterAsync(beat.Token);
                    logger.LogWarning("This worker's row was gone (deleted as silent while it was away); registered again");
                }
            }
            // Any exception but the stop's own: a timeout surfacing as a cancellation ended the loop as Canceled, which the
            // failed-service check does not see, and peers then took this live worker for dead.
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Heartbeat not recorded: {Error}", ex.Message);
            }
        } while (await timer.NextTickOrStopAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // Its own few seconds: it runs after the bus's drain, when the host's shutdown token may be spent.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await workers.HeartbeatAsync(identity.Id, metrics.ImagesProcessed, LastBatch(), "stopped", timeout.Token); }
        catch (Exception ex) { logger.LogWarning("Final heartbeat not recorded: {Error}", ex.Message); }
    }

    private string LastBatch()
    {
        if (!model.IsLoaded) return "null";
        var s = model.Fields.Analyzer.Statistics;
        return JsonSerializer.Serialize(new
        {
            batches = s.BatchesExecuted, mean_batch_size = s.MeanBatchSize, last_batch_size = s.LastBatchSize,
            last_batch_ms = s.LastBatchDuration.TotalMilliseconds, images_per_second = s.RequestsPerSecond, queue_depth = s.QueueDepth,
            db_write_share = metrics.WriteShare, batches_run_alone = model.Fields.Analyzer.BatchesRunAlone,
        });
    }
}
