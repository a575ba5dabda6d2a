using System.Text;

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
    /// The mount point of one mountinfo line (its fifth field), its octal escapes decoded (\040 for a space, \011,
    /// \012, \134); null for a line that has none.
    /// </summary>
    public static string? MountPointOf(string line)
    {
        var fields = line.Split(' ');
        return fields.Length > 4 ? Unescape(fields[4]) : null;
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\')) return field;
        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                bytes.Add((byte)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string text, int start) =>
        start + 3 <= text.Length && text.Substring(start, 3).All(c => c is >= '0' and <= '7');
}
