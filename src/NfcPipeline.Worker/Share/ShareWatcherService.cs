using MassTransit;
using Microsoft.Extensions.Options;
using NfcPipeline.Contracts;
using NfcPipeline.Intake;
using NfcPipeline.Intake.Share;
using NfcPipeline.Storage.Share;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Share;

/// <summary>The content of <c>.nfc-status.json</c> once a study folder has been submitted.</summary>
public sealed record SubmittedStudyStatus(string State, string StudyId, DateTimeOffset SubmittedAt);

/// <summary>
/// Polls the share root and publishes SubmitStudy once for every study folder that is ready, again only when its
/// content changes. Several workers may watch one root: a Postgres advisory lock lets one scan at a time, and the
/// schedule (share_watch.next_scan_at) is shared, so the others skip the tick. Failures are recorded in share_scans
/// and logged; the loop keeps going. Nothing in the share is modified; the optional status file is the pipeline's own.
/// Logs name studies by study id and folder name only, never anything below the study folder.
/// </summary>
public sealed class ShareWatcherService(
    IOptions<ShareWatcherOptions> options,
    ShareScanStore store,
    ShareScanSignal signal,
    ShareScanner scanner,
    StudyStatusFile statusFile,
    IServiceScopeFactory scopes,
    TimeProvider clock,
    DatabaseRetry retry,
    ILogger<ShareWatcherService> logger) : BackgroundService
{
    private readonly string _workerId = $"{Environment.MachineName}:{Environment.ProcessId}";
    private readonly Dictionary<string, string> _reportedRefusals = new(StringComparer.Ordinal);
    private readonly ShareActivityMemory _activity = new();
    private Task? _abandoned;
    private const string FutureTimes = "file times in the future";
    /// <summary>How long a published submission's record is retried through a database outage.</summary>
    private static readonly TimeSpan RecordBudget = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.IsEnabled)
        {
            logger.LogInformation("Share watcher disabled: {Setting} is not set", $"{ShareWatcherOptions.Section}:Root");
            return;
        }
        var root = NormaliseRoot(settings.Root!);
        logger.LogInformation("Watching share {Root} every {PollInterval}, settle time {SettleTime}", root, settings.PollInterval, settings.SettleTime);

        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = settings.TriggerCheckInterval;
            try { await TickAsync(root, settings, stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception ex)
            {
                // Typically the database is unreachable: retry at the poll interval, not every trigger check, to keep
                // the log readable.
                wait = settings.PollInterval;
                logger.LogError(ex, "Share watcher tick failed for {Root}; retrying in {Interval}", root, wait);
            }
            try { await signal.WaitAsync(wait, clock, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>Scans when this worker holds the root's lock and a scan is due or requested; otherwise does nothing.</summary>
    private async Task TickAsync(string root, ShareWatcherOptions settings, CancellationToken ct)
    {
        // A scan given up on may still hang in the share; no second one joins it, and the lock is left to other workers.
        if (_abandoned is { } abandoned)
        {
            if (!abandoned.IsCompleted) return;
            _abandoned = null;
            logger.LogWarning("The scan of {Root} given up on has returned ({Outcome}); scanning again", root,
                abandoned.IsCanceled ? "cancelled" : abandoned.Exception?.InnerException?.GetType().Name ?? "listed");
        }
        // Whether a scan is wanted, read on a pooled connection first: the lock's own connection is unpooled (a session
        // lock), and taking it every tick made the server start a backend a second for every worker.
        if (!await store.ScanWantedAsync(root, ct)) return;
        await using var rootLock = await store.TryLockRootAsync(root, ct);
        if (rootLock is null)
        {
            logger.LogDebug("Another worker is scanning {Root}; skipping this tick", root);
            return;
        }
        // Again under the lock (another worker may have scanned between the two), and the row made or its interval kept.
        var intervalSeconds = (int)Math.Max(1, Math.Ceiling(settings.PollInterval.TotalSeconds));
        var watch = await store.EnsureWatchAsync(root, intervalSeconds, ct);
        var requested = watch.ScanRequestedAt is not null;
        if (!requested && !watch.Due) return;

        if (requested) logger.LogInformation("Scanning {Root} now, as requested", root);
        var (outcome, settlesAt) = await ScanAsync(root, settings, requested, ct);
        // A settling study is looked at again when it will have settled, not a whole poll interval after. The schedule
        // itself is kept in the database's time, so that workers whose clocks disagree share it.
        var nextScanIn = settings.PollInterval;
        if (settlesAt is { } settles && settles - clock.GetUtcNow() is var untilSettled && untilSettled < nextScanIn)
            nextScanIn = untilSettled < TimeSpan.Zero ? TimeSpan.Zero : untilSettled;
        await store.CompleteWatchAsync(root, nextScanIn, watch.ScanRequestedAt, ct);
        if (outcome.Error is null)
            logger.LogDebug("Scanned {Root}: {FoldersSeen} folders, {StudiesFound} submitted", root, outcome.FoldersSeen, outcome.StudiesFound);
    }

    private async Task<(ShareScanOutcome Outcome, DateTimeOffset? SettlesAt)> ScanAsync(string root, ShareWatcherOptions settings,
        bool requested, CancellationToken ct)
    {
        var scanId = await store.StartScanAsync(root, _workerId, ct);
        _statusWritesHang = false;
        int seen = 0, found = 0;
        string? error = null;
        DateTimeOffset? settlesAt = null;
        try
        {
            var scan = await ListAsync(root, settings, ct);
            seen = scan.Folders.Count;
            settlesAt = scan.EarliestSettle;
            // Asked only of an empty listing (the scan under way is not finished, so the last one is the one before it).
            if (seen == 0 && await store.LastFoldersSeenAsync(root, ct) is > 0 and var foldersBefore)
                logger.LogWarning("The share {Root} lists no study folders, where its last scan saw {FoldersBefore}. If it is a network " +
                    "mount, it may have gone: Share:RequireMountPoint makes the watcher refuse an unmounted root", root, foldersBefore);
            ReportNotReady(scan);
            await store.ReplaceFolderNotesAsync(root, Notes(scan), scan.Folders.Select(f => f.Folder).ToList(), ct);
            // A folder whose registration was refused is submitted again after a while, or at once when asked to scan.
            var submitted = await store.GetSubmittedFingerprintsAsync(root, requested ? null : settings.RefusedRetryInterval, ct);
            await using var scope = scopes.CreateAsyncScope();
            var publisher = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
            var ready = scan.NewlyReady(submitted).ToList();
            // Only to say why each goes out: every folder submitted before, refusals due for a retry included.
            var everSubmitted = ready.Count == 0 ? submitted : await store.GetSubmittedFingerprintsAsync(root, TimeSpan.FromDays(3650), ct);
            foreach (var study in ready)
            {
                var why = submitted.ContainsKey(study.Folder) ? "changed since its last submission"
                    : everSubmitted.ContainsKey(study.Folder) ? "a retry of a refused registration" : "new";
                error = await SubmitAsync(root, study, why, publisher, settings, ct);
                if (error is not null) break;  // the broker is likely down; the rest wait for the next scan
                found++;
            }
        }
        catch (ShareUnavailableException ex)
        {
            error = ex.Message;
            logger.LogWarning("Share scan failed: {Error}", ex.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await store.FinishScanAsync(scanId, new(seen, found, "the worker stopped during the scan"), CancellationToken.None);
            throw;
        }
        catch (Exception ex)
        {
            error = $"{ex.GetType().Name}: {ex.Message}";
            logger.LogError(ex, "Share scan of {Root} failed", root);
        }
        var outcome = new ShareScanOutcome(seen, found, error);
        await store.FinishScanAsync(scanId, outcome, ct);
        return (outcome, settlesAt);
    }

    /// <summary>
    /// Lists the share on a thread of its own, given up when it reads no folder (nor 256 entries of one) for Share:StallTimeout. A call into a
    /// hung network mount cannot be interrupted: the scan is left to return when the mount does, so the worker can record
    /// it, release the root's lock and stop when asked. A share that is slow but answers is scanned to its end.
    /// </summary>
    private async Task<ShareScan> ListAsync(string root, ShareWatcherOptions settings, CancellationToken ct)
    {
        try
        {
            return await StallGuard.RunAsync((progress, token) => scanner.Scan(root, new ShareScanOptions
            {
                SettleTime = settings.SettleTime, Memory = _activity, RequireMountPoint = settings.RequireMountPoint, Progress = progress,
            }, token), settings.StallTimeout, clock, ct, abandoned: listing => _abandoned = listing);
        }
        catch (TimeoutException)
        {
            throw new ShareUnavailableException($"The share did not answer for {settings.StallTimeout} (a hung network mount?); " +
                "this worker leaves it to others until that scan returns.");
        }
    }

    /// <summary>Publishes one study, then records it; returns the error when the publish failed.</summary>
    private async Task<string?> SubmitAsync(string root, StudyFolder study, string why, IPublishEndpoint publisher,
        ShareWatcherOptions settings, CancellationToken ct)
    {
        var studyId = study.StudyId!;
        var publishing = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(settings.PublishTimeout);
            await publisher.Publish<SubmitStudy>(new() { StudyId = studyId, FolderPath = study.Folder, ShareRootKey = root },
                c => MandatoryPublish.Apply(c), timeout.Token);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            logger.LogError(ex, "Publishing SubmitStudy for study {StudyId} failed; it is tried again at the next scan", studyId);
            return $"publishing study {studyId} failed: {ex.GetType().Name}: {ex.Message}";
        }
        // Recorded even as the worker stops, and through a database blip: the broker took the message, and unrecorded the
        // next scan would submit it again (an unchanged study registered and announced once more). Past the retries it is
        // said and the scan goes on: the other ready folders are not held back by this one's record.
        try
        {
            using var recording = new CancellationTokenSource(RecordBudget);
            await retry.RunAsync(t => store.RecordSubmissionAsync(root, study.Folder, study.Fingerprint!, studyId, t, publishing.Elapsed), recording.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException || DatabaseRetry.IsTransient(ex))
        {
            logger.LogWarning("Study {StudyId} was submitted but its submission not recorded ({Error}); the next scan submits it again",
                studyId, ex.Message);
        }
        _reportedRefusals.Remove(study.Folder);
        logger.LogInformation("Submitted study {StudyId} from folder {StudyFolder}: {FileCount} files, marked by {Marker}, {Why}",
            studyId, SharePaths.Printable(study.Folder), study.FileCount, study.Marker, why);
        if (settings.WriteStatusFile) WriteStatusFile(study.FullPath, root, new SubmittedStudyStatus("submitted", studyId, clock.GetUtcNow()));
        return null;
    }

    /// <summary>
    /// Written while this worker holds the root's lock: on a hung mount the write would hold it, and with it every
    /// worker's scans of the root, for as long as the mount hangs. Given <see cref="Analysis.ShareAvailability.ProbeTimeout"/>,
    /// then left to finish on its own.
    /// </summary>
    private void WriteStatusFile(string folder, string root, object status)
    {
        if (_statusWritesHang) return;   // one hung this scan: the rest would each wait as long
        var writing = Task.Run(() => statusFile.Write(folder, SharePaths.RealPath(root), status));
        if (writing.Wait(Analysis.ShareAvailability.ProbeTimeout)) return;
        _statusWritesHang = true;
        logger.LogWarning("Writing a submitted study's status file did not return within {Seconds:0} s (a hung mount?); left to finish on its own, " +
            "and no more written this scan", Analysis.ShareAvailability.ProbeTimeout.TotalSeconds);
    }

    /// <summary>A status file write timed out in the scan under way (reset as each scan starts).</summary>
    private bool _statusWritesHang;

    /// <summary>The folders an operator should know about (share_folder_notes): refused, unmarked, waiting for future file times.</summary>
    private List<ShareFolderNote> Notes(ShareScan scan) => scan.Folders.Select(folder => folder.Readiness switch
    {
        StudyReadiness.Refused => new ShareFolderNote(folder.Folder, "refused", folder.Reason ?? "refused"),
        StudyReadiness.NoMarker => new ShareFolderNote(folder.Folder, "no_marker", folder.Reason ?? "no READY file or study.json"),
        StudyReadiness.Settling when folder.NewestChange > clock.GetUtcNow() + ShareScanner.FutureTolerance =>
            new ShareFolderNote(folder.Folder, "waiting", folder.Reason ?? FutureTimes),
        _ => null,
    }).OfType<ShareFolderNote>().ToList();

    /// <summary>Refused folders are logged once per reason; settling and unmarked ones only at debug level.</summary>
    private void ReportNotReady(ShareScan scan)
    {
        // Folders gone from the share are forgotten: one that comes back with its old problem is warned about again.
        var present = scan.Folders.Select(f => f.Folder).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _reportedRefusals.Keys.Where(k => !present.Contains(k)).ToList()) _reportedRefusals.Remove(gone);
        foreach (var folder in scan.Folders)
        {
            if (folder.Readiness == StudyReadiness.Refused)
            {
                if (_reportedRefusals.TryGetValue(folder.Folder, out var reported) && reported == folder.Reason) continue;
                _reportedRefusals[folder.Folder] = folder.Reason!;
                logger.LogWarning("Study folder {StudyFolder} is not submitted: {Reason}", SharePaths.Printable(folder.Folder), folder.Reason);
            }
            else if (folder.Readiness == StudyReadiness.Settling && folder.NewestChange > clock.GetUtcNow() + ShareScanner.FutureTolerance)
            {
                // Not a copy in progress: the study waits for a time this host has not reached. Said once, not at debug.
                if (_reportedRefusals.TryGetValue(folder.Folder, out var reported) && reported == FutureTimes) continue;
                _reportedRefusals[folder.Folder] = FutureTimes;
                logger.LogWarning("Study folder {StudyFolder} waits: {Reason}", SharePaths.Printable(folder.Folder), folder.Reason);
            }
            else if (!folder.IsReady)
            {
                _reportedRefusals.Remove(folder.Folder);
                logger.LogDebug("Study folder {StudyFolder} is {Readiness}: {Reason}", SharePaths.Printable(folder.Folder), folder.Readiness, folder.Reason);
            }
        }
    }

    /// <summary>A share root as the watcher keys it (share_watch, share_submissions, share_folder_notes).</summary>
    internal static string NormaliseRoot(string root)
    {
        var full = Path.GetFullPath(root);
        return full.Length > 1 ? full.TrimEnd(Path.DirectorySeparatorChar) : full;
    }
}
