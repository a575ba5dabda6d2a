namespace NfcPipeline.Intake;

/// <summary>One image of a study, placed by the folder layout <c>&lt;study&gt;/&lt;patient&gt;/&lt;finger&gt;/&lt;field&gt;.&lt;ext&gt;</c>.</summary>
public sealed record StudyImage(string RelativePath, string FullPath, string? Patient, string? Finger, string Field)
{
    /// <summary>The path as listings show it: the patient folder (often a name) replaced by the patient's code, as the
    /// database's shown_path does ("Doe-Jane/L2/f1.jpg" of P01 is "P01/L2/f1.jpg").</summary>
    public string ShownPath => Patient is not null && RelativePath.IndexOf('/') is var slash and > 0 ? Patient + RelativePath[slash..] : RelativePath;
}

/// <summary>Something in the folder that is not analysed, and why.</summary>
/// <summary>An entry left out of the study; <see cref="Unreadable"/> when it is a folder that could not be listed.</summary>
/// <param name="Folder">A folder or a link (a root-level one may be named after a patient), not a plain file.</param>
public sealed record SkippedEntry(string RelativePath, string Reason, bool Unreadable = false, bool Folder = false);

public sealed record StudyInventory(string StudyFolder, string StudyId, StudyManifest? Manifest, IReadOnlyList<StudyImage> Images, IReadOnlyList<SkippedEntry> Skipped)
{
    public IEnumerable<IGrouping<string?, StudyImage>> ByPatient => Images.GroupBy(i => i.Patient);

    /// <summary>A skipped entry's path as listings show it: a patient folder the manifest maps, as the patient's code;
    /// under a map, a folder it does not name as '?'.</summary>
    public string Shown(SkippedEntry entry)
    {
        int slash = entry.RelativePath.IndexOf('/');
        var first = slash > 0 ? entry.RelativePath[..slash] : entry.RelativePath;
        if (Manifest?.PatientFor(first) is { } code) return code + entry.RelativePath[first.Length..];
        // Under a patients map, a folder it does not name (one of no images: a consent form's) is shown as '?': its
        // name may be the patient's own, which the map is there to keep out.
        if (Manifest is { Patients.Count: > 0 } && (slash > 0 || entry.Unreadable || entry.Folder)) return "?" + entry.RelativePath[first.Length..];
        return entry.RelativePath;
    }
}

/// <summary>
/// Reads a study folder without changing anything in it. Files directly in the study folder have no patient, files
/// in <c>&lt;patient&gt;/</c> no finger. Finger folders are normalised (see <see cref="FingerNames"/>) or renamed by the
/// manifest; unknown finger names are kept as written. Files named as images (.jpg, .jpeg, .png, .tif, .tiff, .bmp) are
/// listed, and a bad one fails alone, with its reason, when it is decoded; other files (notes, spreadsheets, Thumbs.db)
/// are skipped with a reason rather than failed as fields of an "unassigned" patient. Links that leave the root are
/// skipped with a reason.
/// </summary>
public static class StudyLayout
{
    public const int MaxDepth = 3;

    /// <summary>
    /// The most entries (files and folders, hidden ones too) a study's walk lists before it gives up: a folder of millions
    /// (an archive dropped into the share) would otherwise hold the scan and the worker's memory for minutes. A large
    /// study (1,000 patients, 8 fingers, 8 files a finger: 4 fields and their notes) lists about 73,000.
    /// </summary>
    public const int MaxEntries = 200_000;

    /// <summary>Why a study is refused when its walk lists more than <paramref name="limit"/> entries.</summary>
    public static string TooManyEntries(int limit) =>
        $"The study folder holds more than {limit:N0} files and folders (to the layout's <patient>/<finger>/ depth); it is refused " +
        "as no study (a folder of millions would hold the scan and the memory). Split it into smaller studies.";

    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp" };

    /// <summary>Whether a file name is one a field image may have; others are not analysed.</summary>
    public static bool IsImageFileName(string name) => ImageExtensions.Contains(Path.GetExtension(name));

    /// <summary>
    /// Why a listed folder cannot be registered, or null. Registration replaces a study's patients and images with
    /// what is listed, so a partial listing would drop the patients it missed; a folder with no images is no study.
    /// </summary>
    public static string? RegistrationProblem(StudyInventory inventory)
    {
        if (inventory.Skipped.Count(s => s.Unreadable) is > 0 and var unreadable)
            return $"{unreadable} folder(s) or link(s) of the study cannot be read (permissions, a share not fully mounted, or a " +
                "link whose target is not there); nothing was registered, so no patient is dropped. Fix access (or remove a dead " +
                "link) and submit it again.";
        if (inventory.Images.Count == 0)
            return "The study folder holds no images (<patient>/<finger>/<field> files); nothing was registered.";
        return PatientFolderProblem(inventory, "nothing was registered");
    }

    /// <summary>
    /// Why the study's patients map cannot keep its folder names out of what is shown, or its patient folders cannot be
    /// told apart, or null.
    /// <paramref name="consequence"/> says what the caller did not do.
    /// </summary>
    public static string? PatientFolderProblem(StudyInventory inventory, string consequence)
    {
        // A patients map is how a study keeps folder names (often the patient's own) out of the results: every patient
        // folder must be in it, or those it misses would be stored, shown and exported under their folder names. Names
        // compare in one Unicode form (UnicodeNames).
        var patientFolders = inventory.Images.Where(i => i.RelativePath.Contains('/'))
            .Select(i => i.RelativePath[..i.RelativePath.IndexOf('/')]).Distinct(StringComparer.Ordinal).ToList();
        if (inventory.Manifest is { Patients.Count: > 0 } manifest
            && patientFolders.Count(folder => manifest.PatientFor(folder) is null) is > 0 and var unmapped)
            return $"{unmapped} patient folder(s) are not in study.json's patients map, which must name every patient folder when it is " +
                $"given (their folder names would otherwise be shown as patient codes); {consequence}. Add them, or remove the map.";
        // Two folders that differ only in Unicode form (one copied from a Mac), letter case or a space at an end would be
        // one patient under a map, and without one two patients under codes that look the same, each graded on part of
        // the fields.
        if (patientFolders.GroupBy(folder => UnicodeNames.Key(folder).Trim().ToUpperInvariant()).Count(g => g.Count() > 1) is > 0 and var doubled)
            return $"{doubled} pair(s) of patient folders have names that differ only in their Unicode form (one written on a Mac, say), " +
                $"letter case or spaces at their ends: one patient's folder split in two, or two patients that would look alike; {consequence}. " +
                "Merge or rename them.";
        // Images at the study's root are the unassigned patient's: a patient of that name would be graded with them.
        if (inventory.Images.Any(i => !i.RelativePath.Contains('/'))
            && inventory.Images.Any(i => i.RelativePath.Contains('/') && string.Equals(i.Patient, UnassignedPatient, StringComparison.OrdinalIgnoreCase)))
            return $"A patient is named '{UnassignedPatient}', the name the images at the study's root are registered under: they would be " +
                $"graded as one patient; {consequence}. Rename that patient, or move the root's images into a patient folder.";
        return null;
    }

    /// <summary>
    /// Why a folder under the share would be refused when submitted (a file, no images, an unreadable folder, a bad
    /// manifest or folder name), or null: what the worker checks, for submitters to answer before they publish.
    /// </summary>
    public static string? SubmissionProblem(string shareRoot, string relativeFolder, string? studyId = null) =>
        ReadForSubmission(shareRoot, relativeFolder, studyId).Problem;

    /// <summary>The folder as the worker would read it, or why it would refuse it (then no inventory).</summary>
    public static (StudyInventory? Inventory, string? Problem) ReadForSubmission(string shareRoot, string relativeFolder, string? studyId = null)
    {
        try
        {
            var inventory = Discover(SharePaths.ResolveUnder(shareRoot, relativeFolder), shareRoot, studyId,
                Path.GetFileName(relativeFolder.Replace('\\', '/').TrimEnd('/')));
            return RegistrationProblem(inventory) is { } problem ? (null, problem) : (inventory, null);
        }
        catch (StudyLayoutException ex) { return (null, WithinShare(ex.Message, shareRoot)); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, $"The folder cannot be read: {WithinShare(ex.Message, shareRoot)}");
        }
    }

    /// <summary>
    /// A message with the share's own location taken out of the paths it quotes, so that they read relative to the share,
    /// as the submitter named them: an answer over HTTP does not tell the server's layout.
    /// </summary>
    private static string WithinShare(string message, string shareRoot)
    {
        foreach (var root in new[] { Path.GetFullPath(shareRoot), SafeRealPath(shareRoot) }.OfType<string>().Select(r => r.TrimEnd('/') + "/")
                     .Where(r => r.Length > 1).Distinct().OrderByDescending(r => r.Length))
            message = message.Replace(root, "");
        return message;
    }

    private static string? SafeRealPath(string path)
    {
        try { return SharePaths.RealPath(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <param name="studyId">The id the study is submitted under, where the submitter names it: checked instead of the
    /// manifest's or the folder's.</param>
    /// <param name="folderName">The folder's name as submitted (a link's, not its target's): the id when neither the
    /// submitter nor the manifest gives one.</param>
    /// <param name="maxEntries">At most this many entries are listed (<see cref="MaxEntries"/>); more refuse the folder.</param>
    /// <param name="progress">Advanced at each folder and every <see cref="Share.ShareScanProgress.EntriesPerStep"/> entries, for a stall guard.</param>
    public static StudyInventory Discover(string studyFolder, string? shareRoot = null, string? studyId = null, string? folderName = null,
        int maxEntries = MaxEntries, Share.ShareScanProgress? progress = null)
    {
        if (File.Exists(studyFolder)) throw new StudyLayoutException($"'{studyFolder}' is a file, not a study folder.");
        if (!Directory.Exists(studyFolder)) throw new StudyLayoutException($"Study folder '{studyFolder}' does not exist.");
        var folder = Path.GetFullPath(studyFolder);
        var realRoot = SharePaths.RealPath(shareRoot ?? folder);
        var realFolder = SharePaths.RealPath(folder);
        if (!SharePaths.IsInside(realFolder, realRoot))
            throw new StudyLayoutException("The study folder is outside the share (a link that leads out of it?); it is refused.");
        if (shareRoot is not null && SharePaths.IsRoot(realFolder, realRoot))
            throw new StudyLayoutException(SharePaths.RootItselfReason);

        var manifest = StudyManifest.Read(folder, realRoot);
        studyId ??= manifest?.StudyId ?? folderName ?? Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar));
        if (StudyIds.Problem(studyId) is { } problem) throw new StudyLayoutException(problem);

        var walk = new WalkState(manifest, realRoot, realFolder, maxEntries) { Progress = progress };
        Walk(folder, [], viaLink: false, walk);
        walk.Images.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
        walk.Skipped.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
        return new StudyInventory(folder, studyId, manifest, walk.Images, walk.Skipped);
    }

    /// <summary>What one study's walk carries: its folders and files seen by real path, and what it found.</summary>
    private sealed record WalkState(StudyManifest? Manifest, string RealRoot, string RealStudy, int MaxEntries)
    {
        public int Listed { get; set; }
        public Share.ShareScanProgress? Progress { get; init; }

        public HashSet<string> VisitedFolders { get; } = new(StringComparer.Ordinal) { RealStudy };
        public HashSet<string> LinkedFiles { get; } = new(StringComparer.Ordinal);
        public List<StudyImage> Images { get; } = [];
        public List<SkippedEntry> Skipped { get; } = [];

        public bool WalkReaches(string real, bool folder) => StudyLayout.WalkReaches(RealStudy, real, folder);
    }

    /// <summary>
    /// Whether <paramref name="real"/> lies in the study (real path <paramref name="realStudy"/>) where the walk itself
    /// reaches it: no hidden, temporary or refused name on its way, no folder named like an image, not deeper than the
    /// layout. A link there is left out (its images are registered there, once), by registration and by the share scan's
    /// fingerprint alike; a link into a place the walk passes over is followed as before.
    /// </summary>
    public static bool WalkReaches(string realStudy, string real, bool folder)
    {
        if (real == realStudy) return true;
        if (!real.StartsWith(realStudy.TrimEnd('/') + "/", StringComparison.Ordinal)) return false;
        var segments = Path.GetRelativePath(realStudy, real).Split('/');
        var folders = folder ? segments : segments[..^1];
        return folders.Length < MaxDepth
            && segments.All(s => !SharePaths.IsIgnored(s) && SharePaths.NameRefusal(s) is null)
            && folders.All(s => !ImageExtensions.Contains(Path.GetExtension(s)))
            && (folder || IsImageFileName(segments[^1]));   // a file the walk registers there
    }

    /// <summary>
    /// Whether a dead link, were its target there, would be a field or a patient or finger folder of the study: its
    /// target in the share, not a place the study's own walk reaches (a link there is left out), and named as an image,
    /// or as a folder where folders are walked (not as an image or a document).
    /// </summary>
    private static bool CouldHoldImages(FileSystemInfo link, List<string> segments, WalkState walk) =>
        SafeRealPath(link.FullName) is { } target && SharePaths.IsInside(target, walk.RealRoot)
        && !walk.WalkReaches(target, folder: true) && !walk.WalkReaches(target, folder: false)
        && (IsImageFileName(link.Name) || segments.Count + 1 < MaxDepth && !ImageExtensions.Contains(Path.GetExtension(link.Name))
            && !DocumentExtensions.Contains(Path.GetExtension(link.Name)));

    /// <summary>Names a study's notes and records go by: a dead link so named is no patient's or finger's folder.</summary>
    private static readonly HashSet<string> DocumentExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".pdf", ".txt", ".md", ".rtf", ".doc", ".docx", ".odt", ".xls", ".xlsx", ".ods", ".csv", ".tsv", ".json", ".xml",
        ".html", ".htm", ".log", ".ini", ".zip", ".7z", ".gz", ".tar", ".avi", ".mp4", ".mov",
    };

    private const string LinkIntoStudy = "a link to another place in this study: the images there are registered there, once";

    /// <summary>The patient the images at a study's root (in no patient folder) are registered under.</summary>
    public const string UnassignedPatient = "unassigned";

    /// <param name="viaLink">Whether a link led here: only such files can be another path to a file already found, since a
    /// link to where the walk itself goes is left out (it would take a sibling's images, or the real folder be skipped).</param>
    private static void Walk(string directory, List<string> segments, bool viaLink, WalkState walk)
    {
        var (manifest, realRoot, skipped) = (walk.Manifest, walk.RealRoot, walk.Skipped);
        var entries = new List<FileSystemInfo>();
        walk.Progress?.Advance();
        try
        {
            // Counted as listed, so a folder of millions is given up on before it is held in memory.
            foreach (var listed in new DirectoryInfo(directory).EnumerateFileSystemInfos())
            {
                if (++walk.Listed > walk.MaxEntries) throw new StudyLayoutException(TooManyEntries(walk.MaxEntries));
                if (walk.Listed % Share.ShareScanProgress.EntriesPerStep == 0) walk.Progress?.Advance();
                entries.Add(listed);
            }
            entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            // .NET's message names the folder's full path, with the patient's folder in it: listed and logged, it must not.
            var why = ex is UnauthorizedAccessException ? "permission denied" : ex.Message.Replace(directory, "the folder");
            skipped.Add(new SkippedEntry(string.Join('/', segments), $"folder cannot be read: {why}", Unreadable: true));
            return;
        }
        foreach (var entry in entries)
        {
            if (SharePaths.IsIgnored(entry.Name)) continue;
            var relative = string.Join('/', segments.Append(entry.Name));
            // Analysis refuses such paths (ResolveUnder): registered, the image would fail as not in the share.
            if (SharePaths.NameRefusal(entry.Name) is { } refused) { skipped.Add(new SkippedEntry(SharePaths.Printable(relative), refused, Folder: entry is DirectoryInfo || entry.LinkTarget is not null)); continue; }
            if (entry.LinkTarget is not null && SharePaths.LinkRefusal(entry.FullName, realRoot) is { } refusal)
            {
                // A target in the share that is not there may be on a mount that is away: registered without it, its
                // patient or field would be dropped, reviewers' exclusions with it, as for a folder that cannot be read.
                // A dead link the study would not use anyway (out of the share, not an image, too deep) is left out.
                skipped.Add(refusal == SharePaths.BrokenLink && CouldHoldImages(entry, segments, walk)
                    ? new SkippedEntry(relative, "link whose target is not there (removed, or on a mount that is away)", Folder: true, Unreadable: true)
                    : new SkippedEntry(relative, refusal, Folder: true));
                continue;
            }
            if (entry.LinkTarget is not null && SafeRealPath(entry.FullName) is { } target && walk.WalkReaches(target, entry is DirectoryInfo))
            {
                skipped.Add(new SkippedEntry(relative, LinkIntoStudy, Folder: entry is DirectoryInfo));
                continue;
            }
            if (entry is DirectoryInfo dir)
            {
                if (ImageExtensions.Contains(Path.GetExtension(entry.Name))) { skipped.Add(new SkippedEntry(relative, "a folder named like an image file, not an image", Folder: true)); continue; }
                if (segments.Count + 1 >= MaxDepth) { skipped.Add(new SkippedEntry(relative, $"folders nest deeper than <patient>/<finger>/", Folder: true)); continue; }
                // A link re-pointed into a loop (or out of reach) since it was checked: RealPath's error names the path.
                if (SafeRealPath(dir.FullName) is not { } real) { skipped.Add(new SkippedEntry(relative, "folder cannot be resolved (a link that loops, or no access)", Folder: true)); continue; }
                // Resolved again here: a link re-pointed out of the share since its check would list an outside folder,
                // and its files' names would be registered as fields.
                if (!SharePaths.IsInside(real, realRoot)) { skipped.Add(new SkippedEntry(relative, "link leads outside the share; refused", Folder: true)); continue; }
                if (!walk.VisitedFolders.Add(real)) { skipped.Add(new SkippedEntry(relative, "another link to a folder already in this study", Folder: true)); continue; }
                Walk(dir.FullName, [.. segments, entry.Name], viaLink || entry.LinkTarget is not null, walk);
            }
            else if (!IsImageFileName(entry.Name))
            {
                skipped.Add(new SkippedEntry(relative, "not named as an image (.jpg, .jpeg, .png, .tif, .tiff or .bmp); not analysed"));
            }
            else if ((viaLink || entry.LinkTarget is not null) && SafeRealPath(entry.FullName) is { } file && !walk.LinkedFiles.Add(file))
            {
                // Two links to one file (under two patients, say): one field, registered once, as a listed study refuses it twice.
                skipped.Add(new SkippedEntry(relative, "another link to a file already in this study; registered once"));
            }
            else
            {
                walk.Images.Add(Place(relative, entry.FullName, segments, manifest));
            }
        }
    }

    private static StudyImage Place(string relative, string fullPath, List<string> segments, StudyManifest? manifest)
    {
        string? patient = segments.Count >= 1 ? manifest?.PatientFor(segments[0]) ?? segments[0] : null;
        string? finger = segments.Count >= 2
            ? manifest?.FingerFor(segments[1]) ?? FingerNames.Normalise(segments[1]) ?? segments[1]
            : null;
        return new StudyImage(relative, fullPath, patient, finger, Path.GetFileNameWithoutExtension(fullPath));
    }
}
