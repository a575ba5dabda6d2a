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
}
