using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Share;

namespace NfcPipeline.Worker.Share;

/// <summary>
/// Handles ScanShareNow by setting the trigger-now flag of every watched root in share_watch, then waking this
/// host's watcher. The flag, not this host, carries the request: whichever watcher holds a root's lock next scans it,
/// even when the message reached a worker that watches no share or is busy.
/// </summary>
public sealed class ScanShareNowConsumer(ShareScanStore store, ShareScanSignal signal, ILogger<ScanShareNowConsumer> logger)
    : IConsumer<ScanShareNow>
{
    public async Task Consume(ConsumeContext<ScanShareNow> context)
    {
        var roots = await store.RequestScanAsync(context.CancellationToken);
        signal.Request();
        // As received from any client: a line break in it would forge a log line, and its length is the sender's.
        var requestedBy = context.Message.RequestedBy is { } by ? NfcPipeline.Intake.SharePaths.Printable(by.Length > 100 ? by[..100] + "…" : by) : "(unknown)";
        logger.LogInformation("Share scan requested by {RequestedBy}; {Roots} watched roots flagged", requestedBy, roots);
    }
}
