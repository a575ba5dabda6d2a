namespace NfcPipeline.Intake;

/// <summary>Path rules for everything read from the share: no escape through '..', absolute paths or symlinks.</summary>
public static class SharePaths
{
    private static readonly string[] TemporarySuffixes = [".tmp", ".temp", ".part", ".partial", ".crdownload", ".swp", "~"];
    private static readonly HashSet<string> IgnoredNames = new(StringComparer.OrdinalIgnoreCase)
    {
        StudyManifest.FileName, "READY", "Thumbs.db", "desktop.ini",
    };

    /// <summary>Hidden, temporary, marker and manifest files are not images and are passed over silently.</summary>
    public static bool IsIgnored(string fileName) =>
        fileName.StartsWith('.') || fileName.StartsWith('~') || IgnoredNames.Contains(fileName)
        || TemporarySuffixes.Any(s => fileName.EndsWith(s, StringComparison.OrdinalIgnoreCase));

    /// <summary>The path with every symlink resolved; the path itself when nothing is linked.</summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var parts = full.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var current = Path.DirectorySeparatorChar.ToString();
        foreach (var part in parts)
        {
            current = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                current = target.FullName;
        }
        return current;
    }

    public static bool IsInside(string realPath, string realRoot)
    {
        var root = realRoot.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return realPath.StartsWith(root, StringComparison.Ordinal) || realPath == realRoot.TrimEnd(Path.DirectorySeparatorChar);
    }

    /// <summary>
    /// Resolves a path relative to <paramref name="root"/> from an outside source (a message, a form), refusing
    /// absolute paths, '..' segments, control characters, and symlinks whose target leaves the root.
    /// </summary>
    public static string ResolveUnder(string root, string relativePath)
    {
        if (string.IsNullOrWhiteSpace(relativePath)) throw new StudyLayoutException("The path is empty.");
        if (Path.IsPathRooted(relativePath) || relativePath.StartsWith('~'))
            throw new StudyLayoutException($"'{relativePath}' is absolute; give a path relative to the share.");
        var segments = relativePath.Split('/', '\\');
        if (segments.Any(s => s is ".." or "."))
            throw new StudyLayoutException($"'{relativePath}' contains '.' or '..'; paths must stay inside the share.");
        if (relativePath.Any(char.IsControl))
            throw new StudyLayoutException("The path contains control characters.");
        var realRoot = RealPath(root);
        var candidate = Path.Combine(realRoot, Path.Combine(segments.Where(s => s.Length > 0).ToArray()));
        if (!File.Exists(candidate) && !Directory.Exists(candidate))
            throw new StudyLayoutException($"'{relativePath}' does not exist in the share.");
        var real = RealPath(candidate);
        if (!IsInside(real, realRoot))
            throw new StudyLayoutException($"'{relativePath}' is a link that leads outside the share; it is refused.");
        return candidate;
    }
}
