namespace NfcPipeline.Intake.Share;

/// <summary>
/// Whether a folder is a mount point, from the kernel's own table (/proc/self/mountinfo): a device-number comparison
/// with the parent misses bind mounts, and a mount point left behind by an unmounted share looks like any folder.
/// </summary>
public static class MountPoints
{
    public const string MountInfoPath = "/proc/self/mountinfo";

    /// <summary>True when <paramref name="folder"/>, links resolved, is where something is mounted.</summary>
    /// <exception cref="ShareUnavailableException">The mount table cannot be read (not Linux, no /proc).</exception>
    public static bool IsMountPoint(string folder)
    {
        string[] lines;
        try { lines = File.ReadAllLines(MountInfoPath); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ShareUnavailableException($"Whether the share is mounted cannot be told: {MountInfoPath} cannot be read ({ex.GetType().Name}).", ex);
        }
        var real = SharePaths.RealPath(Path.GetFullPath(folder));
        return lines.Select(MountPointOf).Any(point => string.Equals(point, real, StringComparison.Ordinal));
    }

    /// <summary>
    /// Why <paramref name="root"/> cannot be read as a share now: it is not there, or (with
    /// <paramref name="mountPointSetting"/>, the setting that asks for it) it is no mount point; null when it can.
    /// </summary>
    public static string? RootProblem(string root, string? mountPointSetting)
    {
        try
        {
            if (!Directory.Exists(root)) return $"the share root '{root}' does not exist or is not a folder (is the share mounted?)";
            if (mountPointSetting is null || IsMountPoint(root)) return null;
            return $"the share root '{root}' is not a mount point ({mountPointSetting}): is the network share mounted?";
        }
        catch (Exception ex) when (ex is ShareUnavailableException or IOException or UnauthorizedAccessException)
        {
            return ex is ShareUnavailableException ? ex.Message : $"the share root '{root}' cannot be looked at ({ex.GetType().Name})";
        }
    }

    /// <summary>
    /// The mount point of one mountinfo line (its fifth field), the kernel's escapes decoded (it escapes a space, tab,
    /// newline and backslash as \040, \011, \012 and \134); null for a line that has none.
    /// </summary>
    public static string? MountPointOf(string line)
    {
        var fields = line.Split(' ');
        return fields.Length > 4
            ? fields[4].Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\")
            : null;
    }
}
