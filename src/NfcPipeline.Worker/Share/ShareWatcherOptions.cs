namespace NfcPipeline.Worker.Share;

/// <summary>The watched share. Bound from the "Share" configuration section; TimeSpans are written "00:00:10".</summary>
public sealed class ShareWatcherOptions
{
    public const string Section = "Share";

    /// <summary>The share root whose direct children are study folders. No default: unset disables the watcher.</summary>
    public string? Root { get; set; }

    /// <summary>Time between scheduled scans. Polling, because inotify does not see changes made over SMB or NFS.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long nothing in a marked study folder may change before it is submitted.</summary>
    public TimeSpan SettleTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Write <c>.nfc-status.json</c> into each submitted study folder (skipped where the share is read-only).</summary>
    public bool WriteStatusFile { get; set; }

    /// <summary>How often share_watch.scan_requested_at (the dashboard's scan-now) is looked at between scans.</summary>
    public TimeSpan TriggerCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one SubmitStudy publish may take before the scan gives up and tries again next time.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long after the worker refused to register a submitted folder it is submitted again, unchanged (a requested
    /// scan does so at once): the cause may have been fixed without a file changing.
    /// </summary>
    public TimeSpan RefusedRetryInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a scan may go without reading a folder of the share, or 256 entries within one. A hung network mount blocks the calls into it for
    /// good: past this the scan is recorded as failed, the root's lock goes to any other worker, and this one waits for
    /// that listing to return before it scans again. A slow share that keeps answering is scanned to its end.
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Refuse to scan a root that is not a mount point. For a network share: once unmounted, its empty mount point would
    /// list as a share without studies (the folder notes cleared, nothing said).
    /// </summary>
    public bool RequireMountPoint { get; set; }

    public bool IsEnabled => !string.IsNullOrWhiteSpace(Root);

    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>What cannot run, one sentence each; upper bounds too, since a bare number binds as days ("30" is a month).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        // Lower bounds too: a tick of 100 ns asked the database a thousand times a second, and logged each failure as fast.
        if (!(PollInterval >= MinInterval && PollInterval <= TimeSpan.FromDays(1))) problems.Add($"Share:PollInterval must be 0.1 second to 1 day (hh:mm:ss), got {PollInterval}.");
        if (!(SettleTime >= TimeSpan.Zero && SettleTime <= TimeSpan.FromDays(1))) problems.Add($"Share:SettleTime must be 0 to a day (hh:mm:ss), got {SettleTime}.");
        if (!(TriggerCheckInterval >= MinInterval && TriggerCheckInterval <= TimeSpan.FromDays(1)))
            problems.Add($"Share:TriggerCheckInterval must be 0.1 second to 1 day (hh:mm:ss), got {TriggerCheckInterval}.");
        if (!(RefusedRetryInterval >= MinInterval && RefusedRetryInterval <= TimeSpan.FromDays(1)))
            problems.Add($"Share:RefusedRetryInterval must be 0.1 second to 1 day (hh:mm:ss), got {RefusedRetryInterval}.");
        if (!(StallTimeout >= TimeSpan.FromSeconds(1) && StallTimeout <= TimeSpan.FromDays(1))) problems.Add($"Share:StallTimeout must be 1 second to 1 day (hh:mm:ss), got {StallTimeout}.");
        if (!(PublishTimeout >= TimeSpan.FromMilliseconds(100) && PublishTimeout <= TimeSpan.FromDays(1))) problems.Add($"Share:PublishTimeout must be 0.1 second to 1 day (hh:mm:ss), got {PublishTimeout}.");
        return problems;
    }
}
