using NfcPipeline.Imaging.Native;

namespace NfcPipeline.Imaging;

/// <summary>What kind of file a path names (following links), before it is opened.</summary>
public static unsafe class FileTypes
{
    private const int TypeMask = 0xF000, Regular = 0x8000, Directory = 0x4000;   // S_IFMT, S_IFREG, S_IFDIR

    /// <summary>
    /// False for a FIFO, socket or device: opening a FIFO blocks until a writer comes, and a device may never end.
    /// True for a regular file, and when the type cannot be read (the open then says what is wrong).
    /// </summary>
    public static bool IsRegularFileOrUnknown(string path)
    {
        if (!OperatingSystem.IsLinux()) return true;
        byte* buffer = stackalloc byte[LibCNative.StatxSize];
        try
        {
            if (LibCNative.Statx(LibCNative.AtFdCwd, path, 0, LibCNative.StatxType, buffer) != 0) return true;
        }
        catch (EntryPointNotFoundException) { return true; }   // a libc without statx (glibc before 2.28)
        int mode = *(ushort*)(buffer + LibCNative.StatxModeOffset);
        return (mode & TypeMask) is Regular or Directory;   // directories are reported by their own check
    }

    /// <summary>
    /// Where an open file really is (Linux: /proc/self/fd), or null when that cannot be told. Checked after opening,
    /// it closes the gap between checking a path and opening it, in which a link could be swapped in.
    /// </summary>
    public static string? RealPathOf(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || handle.IsInvalid) return null;
        try { return new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Whether <paramref name="realPath"/> lies inside the folder <paramref name="realRoot"/> (both without links).</summary>
    public static bool IsInside(string realPath, string realRoot)
    {
        var root = realRoot.TrimEnd(Path.DirectorySeparatorChar);
        return realPath.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }
}
