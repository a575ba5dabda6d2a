namespace NfcPipeline.Intake.Share;

/// <summary>Why a study folder is or is not submitted in this scan.</summary>
public enum StudyReadiness
{
    /// <summary>Has a manifest or READY marker and nothing in it changed for the settle time.</summary>
    Ready,
    /// <summary>Neither study.json nor READY: the operator has not said the copy is complete.</summary>
    NoMarker,
    /// <summary>Marked, but a file changed less than the settle time ago (a copy may still be running).</summary>
    Settling,
    /// <summary>Cannot be submitted as it is (a link out of the share, a bad manifest, an unreadable folder).</summary>
    Refused,
}

/// <summary>Which file says the study folder is complete.</summary>
public enum ReadyMarker { None, Manifest, ReadyFile }

/// <summary>
/// One direct child folder of the share root as the scanner saw it. <see cref="Folder"/> is its name (the path
/// relative to the root); <see cref="Reason"/> explains a folder that is not ready and never names files inside it.
/// </summary>
public sealed record StudyFolder(
    string Folder,
    string FullPath,
    StudyReadiness Readiness,
    ReadyMarker Marker,
    string? StudyId,
    string? Fingerprint,
    int FileCount,
    DateTimeOffset? NewestChange,
    string? Reason)
{
    public bool IsReady => Readiness == StudyReadiness.Ready;

    /// <summary>For a settling folder: when it will have been quiet for the settle time, if nothing changes.</summary>
    public DateTimeOffset? SettlesAt { get; init; }
}

/// <summary>The result of one scan of the share root.</summary>
public sealed record ShareScan(string Root, DateTimeOffset ScannedAt, IReadOnlyList<StudyFolder> Folders)
{
    /// <summary>The earliest time a settling folder becomes ready, if nothing changes; null when none is settling.</summary>
    public DateTimeOffset? EarliestSettle => Folders.Min(f => f.SettlesAt);

    /// <summary>
    /// Ready folders not yet submitted with this exact content: never submitted, or submitted with another fingerprint
    /// (files were added or replaced later). <paramref name="submittedFingerprints"/> maps folder to fingerprint.
    /// </summary>
    public IReadOnlyList<StudyFolder> NewlyReady(IReadOnlyDictionary<string, string> submittedFingerprints) =>
        Folders.Where(f => f.IsReady
                && !(submittedFingerprints.TryGetValue(f.Folder, out var previous) && previous == f.Fingerprint))
            .ToList();
}

/// <summary>The share root itself cannot be listed (missing, unmounted, no permission).</summary>
public sealed class ShareUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
