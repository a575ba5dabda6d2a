using System.Security.Cryptography;
using System.Text;

namespace NfcPipeline.Intake.Share;

/// <summary>
/// What a study folder holds now: a hash over the files registration reads, the time of its newest change, and
/// <see cref="Activity"/>, a hash over every entry the newest change covers (names, sizes, times), which any write alters.
/// </summary>
public sealed record StudyContent(string Fingerprint, int FileCount, DateTimeOffset? NewestChange, string Activity);

/// <summary>The study's walk listed more entries than it may (<see cref="StudyLayout.MaxEntries"/>); the message says so.</summary>
public sealed class StudyTooLargeException(string message) : Exception(message);

/// <summary>A folder inside a study cannot be listed, so its content is unknown.</summary>
public sealed class StudyUnreadableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// A cheap, read-only walk of a study folder, down to the depth <see cref="StudyLayout"/> analyses.
/// The fingerprint covers what registration reads (the images and study.json: relative path, size and last-write
/// time), so hidden, temporary and marker files and our own status file never cause a resubmission. The newest
/// change covers every file and subfolder, temporary ones included, because any write means a copy is running;
/// only the pipeline's status file is left out, so writing it never delays or repeats a submission.
/// </summary>
public static class StudyFingerprint
{
    /// <summary>
    /// Walks the folder; <paramref name="ct"/> is looked at, and <paramref name="progress"/> advanced, in each subfolder
    /// and every <see cref="ShareScanProgress.EntriesPerStep"/> entries (a study may hold thousands of files).
    /// </summary>
    /// <param name="maxEntries">More entries listed than this throw <see cref="StudyTooLargeException"/>, as registration refuses them.</param>
    public static StudyContent Compute(string studyFolder, string realRoot, CancellationToken ct = default, ShareScanProgress? progress = null,
        int maxEntries = StudyLayout.MaxEntries)
    {
        var lines = new List<string>();
        var activity = new List<string>();
        long newestTicks = 0;
        var realStudy = SharePaths.RealPath(studyFolder);
        var visited = new HashSet<string>(StringComparer.Ordinal) { realStudy };
        var walk = new StudyWalk(maxEntries, realStudy);
        Walk(new DirectoryInfo(studyFolder), "", depth: 0, realRoot, visited, lines, activity, ref newestTicks, ct, progress, walk);
        int files = lines.Count(l => !StudyManifest.IsNamedLike(l[..l.IndexOf('\t')]));
        DateTimeOffset? newest = newestTicks == 0 ? null : new DateTimeOffset(newestTicks, TimeSpan.Zero);
        return new StudyContent(Hash(lines), files, newest, Hash(activity));
    }

    private static string Hash(List<string> lines)
    {
        lines.Sort(StringComparer.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', lines))));
    }

    private static void Walk(DirectoryInfo directory, string prefix, int depth, string realRoot,
        HashSet<string> visited, List<string> lines, List<string> activity, ref long newestTicks, CancellationToken ct, ShareScanProgress? progress,
        StudyWalk walk)
    {
        ct.ThrowIfCancellationRequested();
        progress?.Advance();
        var entries = new List<FileSystemInfo>();
        try
        {
            foreach (var listed in directory.EnumerateFileSystemInfos())
            {
                walk.Take();
                entries.Add(listed);
                Step(entries.Count, ct, progress);
            }
        }
        // Gone since its parent was listed (a copy's temporary folder renamed): a change, seen by the next walk.
        catch (DirectoryNotFoundException) when (depth > 0) { return; }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new StudyUnreadableException("a folder in the study cannot be read", ex);
        }
        // In registration's order: which of two paths to one folder is walked does not depend on the listing's order.
        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        for (int i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            Step(i + 1, ct, progress);
            // Registration skips such names with its reason (an undecodable one cannot even be opened): counted, a folder
            // of only such files was ready, and refused as holding no images at every retry.
            if (StudyStatusFile.IsStatusFile(entry.Name) || SharePaths.NameRefusal(entry.Name) is not null) continue;
            if (entry.LinkTarget is not null && !LeadsInside(entry, realRoot)) continue;
            // Registration leaves out a link to a place in the study its walk reaches (P1/X -> ../P2): followed here, it
            // took P2 in at the wrong depth and P2 itself was then skipped as visited, its fields never looked at.
            if (entry.LinkTarget is not null && LeadsIntoStudy(entry, walk.RealStudy)) continue;
            var relative = prefix + entry.Name;
            if (entry is DirectoryInfo dir)
            {
                // Hidden folders (.snapshot, .Trash) and folders deeper than the layout are never analysed.
                // Registration skips a folder named like an image ("f1.jpg/"): counted, its files made a study of only
                // such folders ready, refused as holding no images at every back-off, and changes in it resubmitted.
                // Before the visit is noted: such a link (P1/L2.jpg -> ../P2) would hide the folder it leads to.
                if (SharePaths.IsIgnored(entry.Name) || depth + 1 >= StudyLayout.MaxDepth || StudyLayout.IsImageFileName(entry.Name)) continue;
                if (!visited.Add(SharePaths.RealPath(dir.FullName))) continue;
                newestTicks = Math.Max(newestTicks, dir.LastWriteTimeUtc.Ticks);
                activity.Add($"{relative}/\t{dir.LastWriteTimeUtc.Ticks}");
                Walk(dir, relative + "/", depth + 1, realRoot, visited, lines, activity, ref newestTicks, ct, progress, walk);
            }
            else if (entry is FileInfo file)
            {
                long length, ticks;
                try
                {
                    // A link's own size and time never change; its target's do, and registration reads the target.
                    // One that cannot be followed now (re-pointed into a loop, no permission) counts by its own. Resolved as
                    // the kernel opens it: .NET's ResolveLinkTarget joins a relative target to the link's path as written,
                    // which through a linked study folder (T7 -> curated/T7) names another file, or none.
                    FileInfo stat = file;
                    try { if (entry.LinkTarget is not null && new FileInfo(SharePaths.RealPath(file.FullName)) is { Exists: true } target) stat = target; }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
                    (length, ticks) = (stat.Length, stat.LastWriteTimeUtc.Ticks);
                }
                // Gone since the listing (a copy's temporary file renamed): a change, seen by the next walk.
                catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { continue; }
                newestTicks = Math.Max(newestTicks, ticks);
                activity.Add($"{relative}\t{length}\t{ticks}");
                // In any letter case: a mount that ignores case opens "Study.json" as the manifest, whose edits must count.
                bool isManifest = depth == 0 && StudyManifest.IsNamedLike(entry.Name);
                if (!SharePaths.IsIgnored(entry.Name) && StudyLayout.IsImageFileName(entry.Name) || isManifest)
                    lines.Add($"{relative}\t{length}\t{ticks}");
            }
        }
    }

    /// <summary>Each <see cref="ShareScanProgress.EntriesPerStep"/>-th entry of a folder: a step of the scan, and a look at <paramref name="ct"/>.</summary>
    private static void Step(int entry, CancellationToken ct, ShareScanProgress? progress)
    {
        if (entry % ShareScanProgress.EntriesPerStep != 0) return;
        ct.ThrowIfCancellationRequested();
        progress?.Advance();
    }

    private static bool LeadsIntoStudy(FileSystemInfo link, string realStudy)
    {
        try { return StudyLayout.WalkReaches(realStudy, SharePaths.RealPath(link.FullName), link is DirectoryInfo); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>What one walk carries: the study's real path, and the entries it may still list (the one past the last throws).</summary>
    private sealed class StudyWalk(int limit, string realStudy)
    {
        public string RealStudy { get; } = realStudy;

        private int _listed;

        public void Take()
        {
            if (++_listed > limit) throw new StudyTooLargeException(StudyLayout.TooManyEntries(limit));
        }
    }

    /// <summary>False for links that leave the share, dangle, or loop.</summary>
    private static bool LeadsInside(FileSystemInfo link, string realRoot) => SharePaths.LinkRefusal(link.FullName, realRoot) is null;
}
