using NfcPipeline.Intake.Share;

namespace NfcPipeline.Worker.Analysis;

/// <summary>
/// Whether the share can be read as a whole now: its root is there and, with Worker:RequireShareMountPoint, mounted.
/// Says so once when it goes away and once when it is back, not once per chunk that waits for it.
/// </summary>
public sealed class ShareAvailability
{
    /// <summary>A stat of the root that takes longer is a hung mount (a hard NFS mount whose server is gone blocks for good).</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    private readonly Func<string?> _check;
    private readonly string _root;
    private readonly TimeSpan _probeTimeout;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private Task<string?>? _probe;
    private int _away;

    public ShareAvailability(WorkerOptions options, ILogger<ShareAvailability> logger)
        : this(() => MountPoints.RootProblem(options.ShareRoot!, options.RequireShareMountPoint == true ? "Worker:RequireShareMountPoint" : null),
            options.ShareRoot!, ProbeTimeout, logger) { }

    internal ShareAvailability(Func<string?> check, string root, TimeSpan probeTimeout, ILogger logger)
    {
        // Caught on its thread: a probe given up on by its caller would otherwise end as an unobserved exception.
        _check = () =>
        {
            try { return check(); }
            catch (Exception ex) { return $"the share root '{root}' cannot be looked at ({ex.GetType().Name}: {ex.Message})"; }
        };
        _root = root;
        _probeTimeout = probeTimeout;
        _logger = logger;
    }

    /// <summary>
    /// Why the share cannot be read now, or null when it can. The check runs on a thread of its own: one that does not
    /// answer within <see cref="ProbeTimeout"/> makes the share unavailable, and the next call waits on that same check
    /// rather than starting another, so a hung mount holds one thread, not one per caller.
    /// </summary>
    public async Task<string?> ProblemAsync(CancellationToken ct)
    {
        Task<string?> probe;
        lock (_gate)
        {
            if (_probe is null || _probe.IsCompleted)
                _probe = Task.Factory.StartNew(_check, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            probe = _probe;
        }
        string? problem;
        try { problem = await probe.WaitAsync(_probeTimeout, ct); }
        catch (TimeoutException) { problem = $"the share root '{_root}' did not answer within {_probeTimeout.TotalSeconds:0} s (a hung network mount?)"; }
        if (problem is not null && Interlocked.Exchange(ref _away, 1) == 0)
            _logger.LogWarning("The share is not available: {Problem}. Chunks wait for it in the outbox; submissions are retried, then noted as failed", problem);
        else if (problem is null && Interlocked.Exchange(ref _away, 0) == 1)
            _logger.LogInformation("The share is available again");
        return problem;
    }
}
