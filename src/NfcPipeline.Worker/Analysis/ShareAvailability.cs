using NfcPipeline.Intake.Share;

namespace NfcPipeline.Worker.Analysis;

/// <summary>
/// Whether the share can be read as a whole now: its root is there and, with Worker:RequireShareMountPoint, mounted.
/// Says so once when it goes away and once when it is back, not once per chunk that waits for it.
/// </summary>
public sealed class ShareAvailability(WorkerOptions options, ILogger<ShareAvailability> logger)
{
    private int _away;

    /// <summary>Why the share cannot be read now, or null when it can.</summary>
    public string? Problem()
    {
        var problem = Check();
        if (problem is not null && Interlocked.Exchange(ref _away, 1) == 0)
            logger.LogWarning("The share is not available: {Problem}. Chunks wait for it in the outbox", problem);
        else if (problem is null && Interlocked.Exchange(ref _away, 0) == 1)
            logger.LogInformation("The share is available again");
        return problem;
    }

    private string? Check() =>
        MountPoints.RootProblem(options.ShareRoot!, options.RequireShareMountPoint == true ? "Worker:RequireShareMountPoint" : null);
}
