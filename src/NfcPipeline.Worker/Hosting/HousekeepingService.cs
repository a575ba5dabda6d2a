using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Storage.Share;

namespace NfcPipeline.Worker.Hosting;

/// <summary>
/// Hourly, trims the rows that only ever grow and that nothing needs after a while: published completion events, share
/// scans, workers not heard from (every process start adds one), and jobs that ran or were deleted. Failed jobs, results
/// and the audit log are kept. Every worker does it; the deletes are idempotent.
/// </summary>
public sealed class HousekeepingService(CompletionEventStore events, ShareScanStore scans, WorkerStore workers, JobStore jobs, WorkerOptions options,
    ILogger<HousekeepingService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1));
        do
        {
            await TrimAsync("published completion events", ct => events.TrimPublishedAsync(options.KeepHistory, ct), stoppingToken);
            await TrimAsync("share scans", ct => scans.TrimScansAsync(options.KeepHistory, ct), stoppingToken);
            await TrimAsync("silent workers", ct => workers.TrimSilentAsync(options.KeepHistory, ct), stoppingToken);
            await TrimAsync("finished jobs", ct => jobs.TrimFinishedAsync(options.KeepHistory, ct), stoppingToken);
        } while (await timer.NextTickOrStopAsync(stoppingToken));
    }

    /// <summary>One trim: its failure (the database away) is logged and waits for the next hour; it never stops the worker.</summary>
    private async Task TrimAsync(string what, Func<CancellationToken, Task<int>> trim, CancellationToken ct)
    {
        try
        {
            int deleted = await trim(ct);
            if (deleted > 0) logger.LogInformation("Housekeeping: {Count} {What} older than {Keep} deleted", deleted, what, options.KeepHistory);
        }
        // Any failure but the stop: a background service that throws stops the host, and a trim is not worth a worker.
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("Housekeeping: {What} not trimmed: {Error}", what, ex.Message);
        }
    }
}
