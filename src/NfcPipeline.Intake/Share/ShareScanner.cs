namespace NfcPipeline.Intake.Share;

public sealed record ShareScanOptions
{
    /// <summary>How long nothing in a marked study folder may change before it counts as copied completely.</summary>
    public TimeSpan SettleTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The watcher's memory of earlier scans; without it, file times alone say when a folder last changed.</summary>
    public ShareActivityMemory? Memory { get; init; }

    /// <summary>
    /// The root must be a mount point: an unmounted network share leaves its empty mount point behind, which would
    /// otherwise list as a share without studies.
    /// </summary>
    public bool RequireMountPoint { get; init; }

    /// <summary>The most entries one study folder's walk lists (<see cref="StudyLayout.MaxEntries"/>, as registration does).</summary>
    public int MaxStudyEntries { get; init; } = StudyLayout.MaxEntries;

    /// <summary>Counts the folders and entries read, so a watcher can tell a slow scan from one that hangs.</summary>
    public ShareScanProgress? Progress { get; init; }
}

/// <summary>
/// How far a scan has got: advanced at each folder, and every <see cref="EntriesPerStep"/> entries listed or looked at
/// within one (a folder of 100,000 images on a slow mount takes minutes, yet moves on). Advanced by the scanning
/// thread, read by any other.
/// </summary>
public sealed class ShareScanProgress
{
    public const int EntriesPerStep = 256;
    private long _steps;

    public long Steps => Interlocked.Read(ref _steps);

    public void Advance() => Interlocked.Increment(ref _steps);
}

/// <summary>
/// Lists the study folders of a share root and decides which are ready. Read-only: it lists folders, reads study.json
/// and looks at sizes and times, and never writes, moves or deletes anything. Time comes from the injected clock.
/// </summary>
public class ShareScanner(TimeProvider clock)
{
    public const string ReadyFileName = "READY";

    /// <summary>Scans the direct children of <paramref name="root"/>; throws <see cref="ShareUnavailableException"/>
    /// when the root itself cannot be listed. <paramref name="ct"/> is looked at between folders.</summary>
    public virtual ShareScan Scan(string root, ShareScanOptions options, CancellationToken ct = default)
    {
        var fullRoot = Path.GetFullPath(root);
        if (MountPoints.RootProblem(fullRoot, options.RequireMountPoint ? "Share:RequireMountPoint" : null) is { } problem)
            throw new ShareUnavailableException(char.ToUpperInvariant(problem[0]) + problem[1..] + ".");
        List<DirectoryInfo> children;
        string realRoot;
        try
        {
            realRoot = SharePaths.RealPath(fullRoot);
            // Folders, and links whose target cannot be looked up (broken, looping: a study folder on a mount that is
            // away): listed as folders they would be left out unsaid, and a refusal noted for them dropped as gone.
            children = new DirectoryInfo(fullRoot).EnumerateFileSystemInfos()
                .Where(e => !SharePaths.IsIgnored(e.Name) && (e is DirectoryInfo || IsLinkToNothing(e)))
                .Select(e => e as DirectoryInfo ?? new DirectoryInfo(e.FullName))
                .OrderBy(d => d.Name, StringComparer.Ordinal)
                .ToList();
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new ShareUnavailableException($"The share root '{fullRoot}' cannot be listed ({ex.GetType().Name}).", ex);
        }
        var now = clock.GetUtcNow();
        options.Progress?.Advance();
        var folders = children.Select(child =>
        {
            ct.ThrowIfCancellationRequested();
            return InspectOrRefuse(child, realRoot, clock, options, ct);
        }).ToList();
        ct.ThrowIfCancellationRequested();
        options.Memory?.KeepOnly(folders.Select(f => f.Folder));
        return new ShareScan(fullRoot, now, folders);
    }

    /// <summary>A link whose final target does not exist or cannot be reached (a loop); not File.Exists, which is true
    /// for the dangling link itself.</summary>
    private static bool IsLinkToNothing(FileSystemInfo entry)
    {
        if (entry.LinkTarget is null) return false;
        try
        {
            var real = SharePaths.RealPath(entry.FullName);
            return !File.Exists(real) && !Directory.Exists(real);
        }
        catch (IOException) { return true; }
    }

    /// <summary>File times further ahead of this host's clock than this are reported as a clock problem.</summary>
    public static readonly TimeSpan FutureTolerance = TimeSpan.FromSeconds(5);

    /// <summary>
    /// One folder must not stop the scan of the others, whatever goes wrong in it (an unreadable folder, a manifest the
    /// parser trips on late); its reason names no path inside it.
    /// </summary>
    private static StudyFolder InspectOrRefuse(DirectoryInfo child, string realRoot, TimeProvider clock, ShareScanOptions options,
        CancellationToken ct)
    {
        try { return Inspect(child, realRoot, clock, options, ct); }
        catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException))
        {
            return new StudyFolder(child.Name, child.FullName, StudyReadiness.Refused, ReadyMarker.None, null, null, 0, null,
                ex is UnauthorizedAccessException or IOException ? $"the folder cannot be read ({ex.GetType().Name})"
                    : $"the folder cannot be inspected ({ex.GetType().Name})");
        }
    }

    private static StudyFolder Inspect(DirectoryInfo child, string realRoot, TimeProvider clock, ShareScanOptions options,
        CancellationToken ct)
    {
        var settle = options.SettleTime;
        var name = child.Name;
        var path = child.FullName;
        StudyFolder Refuse(string reason, ReadyMarker marker = ReadyMarker.None) =>
            new(name, path, StudyReadiness.Refused, marker, null, null, 0, null, reason);

        // The worker's own test (ResolveUnder): a name it refuses would be published again at every back-off.
        if (SharePaths.NameRefusal(name) is { } nameRefusal) return Refuse($"the folder is left out: {nameRefusal}");
        if (child.LinkTarget is not null && SharePaths.LinkRefusal(path, realRoot) is { } refusal) return Refuse(refusal);
        // A link to a folder whose path the worker refuses: published, it would be refused at every back-off.
        if (child.LinkTarget is not null)
        {
            try { SharePaths.StudySourcePath(realRoot, name); }
            catch (StudyLayoutException ex) { return Refuse(ex.Message); }
        }

        // Every folder is walked and remembered, marked or not: a copy that brings its study.json early must already
        // be known to be changing when the marker appears.
        StudyContent? content = null;
        string? unreadable = null, tooLarge = null;
        try { content = StudyFingerprint.Compute(path, realRoot, ct, options.Progress, options.MaxStudyEntries); }
        catch (StudyUnreadableException ex) { unreadable = ex.Message; }
        catch (StudyTooLargeException ex) { tooLarge = ex.Message; }
        // A scan given up on (it hung) must not tell the memory it saw this folder at its own, long past, start.
        ct.ThrowIfCancellationRequested();
        // The time this folder was looked at, not the scan's start: a long scan (a cold file server) would otherwise
        // date what it saw here minutes early, and a copy seen changing would count as quiet for those minutes.
        var now = clock.GetUtcNow();
        // A change this watcher saw counts from the scan that saw it, even where the file times are older.
        var seen = content is null ? null : options.Memory?.Observe(name, content.Activity, now);

        var marker = FindMarker(path, options, ct);
        // An unmarked folder of millions (an archive) is no study yet, and says so as other unmarked folders do.
        if (tooLarge is not null && marker != ReadyMarker.None) return Refuse(tooLarge, marker);
        // Before the marker: a folder that cannot be read hides its marker, and "no marker" would send the operator
        // looking for the wrong thing.
        if (content is null && unreadable is not null) return Refuse(unreadable, marker);
        if (marker == ReadyMarker.None || content is null)
            return new StudyFolder(name, path, StudyReadiness.NoMarker, marker, null, null, 0, null, $"no {StudyManifest.FileName} or {ReadyFileName} marker");
        if (marker == ReadyMarker.Manifest && StudyManifest.LinkProblem(path, realRoot) is { } manifestProblem)
            return Refuse(manifestProblem, marker);

        var quietFor = content.NewestChange is { } newest ? now - newest : TimeSpan.MaxValue;
        var seenQuietFor = seen is { } look ? now - look.ChangeSeenAt : TimeSpan.MaxValue;
        if (quietFor < settle || seenQuietFor < settle)
            return new StudyFolder(name, path, StudyReadiness.Settling, marker, null, content.Fingerprint, content.FileCount,
                content.NewestChange, quietFor < -FutureTolerance
                    ? $"file times lie {-quietFor.TotalSeconds:0} s in the future (the clock of the machine that copied them runs ahead?); " +
                      $"waiting until then and {settle.TotalSeconds:0.#} s more"
                    : quietFor < settle
                    ? $"changed {Math.Max(0, quietFor.TotalSeconds):0.#} s ago; waiting for {settle.TotalSeconds:0.#} s without changes"
                    : seen!.Value.FirstSight
                    ? $"first seen by this worker's scans {seenQuietFor.TotalSeconds:0.#} s ago (a copy that keeps file times could be running " +
                      $"unseen); waiting for {settle.TotalSeconds:0.#} s without changes"
                    : $"seen changing by a scan {seenQuietFor.TotalSeconds:0.#} s ago, though its newest file time is older (a copy that keeps " +
                      $"file times, or a file server whose clock runs behind); waiting for {settle.TotalSeconds:0.#} s without changes")
            {
                // When it is quiet for long enough if nothing changes: the watcher scans again then, not a poll later.
                SettlesAt = now + settle - (quietFor < seenQuietFor ? quietFor : seenQuietFor),
            };

        string studyId;
        try { studyId = ReadStudyId(path, marker, realRoot); }
        catch (StudyLayoutException ex) { return Refuse(ex.Message, marker); }
        if (content.FileCount == 0) return Refuse("holds no image files", marker);

        return new StudyFolder(name, path, StudyReadiness.Ready, marker, studyId, content.Fingerprint, content.FileCount, content.NewestChange, null);
    }

    /// <summary>
    /// The folder's marker. The manifest in any letter case marks it (read, a misnamed one is refused with its reason,
    /// not passed over); READY in any case, and READY.txt as Notepad saves it, mark it too.
    /// </summary>
    private static ReadyMarker FindMarker(string folder, ShareScanOptions options, CancellationToken ct)
    {
        // One listing of the folder's files (every folder, every scan), not one per name looked for, and as bounded as
        // the study's walk: a folder of millions at the top is looked through to the limit, with progress, not held.
        var found = ReadyMarker.None;
        int listed = 0;
        foreach (var name in new DirectoryInfo(folder).EnumerateFiles().Select(f => f.Name))
        {
            if (StudyManifest.IsNamedLike(name)) return ReadyMarker.Manifest;
            if (string.Equals(name, ReadyFileName, StringComparison.OrdinalIgnoreCase)
                || string.Equals(name, ReadyFileName + ".txt", StringComparison.OrdinalIgnoreCase))
                found = ReadyMarker.ReadyFile;
            if (++listed % ShareScanProgress.EntriesPerStep == 0)
            {
                ct.ThrowIfCancellationRequested();
                options.Progress?.Advance();
            }
            if (listed >= options.MaxStudyEntries) break;
        }
        return found;
    }

    /// <summary>The manifest's study_id, or the folder name; validated as <see cref="StudyLayout"/> does.</summary>
    private static string ReadStudyId(string folder, ReadyMarker marker, string realRoot)
    {
        var fromManifest = marker == ReadyMarker.Manifest ? StudyManifest.Read(folder, realRoot)?.StudyId : null;
        var studyId = fromManifest ?? Path.GetFileName(folder);
        if (StudyIds.Problem(studyId) is { } problem) throw new StudyLayoutException(problem);
        return studyId;
    }
}
