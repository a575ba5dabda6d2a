using System.Runtime.InteropServices;

namespace NfcPipeline.Imaging.Native;

/// <summary>
/// glibc: formatting the printf-style messages that libtiff hands to its handlers with a va_list, and statx for a
/// file's type, which .NET does not expose.
/// </summary>
internal static unsafe partial class LibCNative
{
    public const string Library = "libc.so.6";

    // On x86-64 and AArch64 Linux a va_list parameter arrives as a pointer and is passed on as one.
    [LibraryImport(Library, EntryPoint = "vsnprintf")]
    public static partial int VsnPrintf(byte* buffer, nuint size, byte* format, nint args);

    public const int AtFdCwd = -100;       // AT_FDCWD: a path relative to the working directory
    public const uint StatxType = 0x1;     // STATX_TYPE
    public const int StatxSize = 256;      // sizeof(struct statx), the same on every architecture
    public const int StatxModeOffset = 28; // offsetof(struct statx, stx_mode), a __u16

    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);
}
