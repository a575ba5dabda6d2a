using System.Runtime.InteropServices;

namespace NfcPipeline.Imaging.Native;

/// <summary>glibc, for formatting the printf-style messages that libtiff hands to its handlers with a va_list.</summary>
internal static unsafe partial class LibCNative
{
    public const string Library = "libc.so.6";

    // On x86-64 and AArch64 Linux a va_list parameter arrives as a pointer and is passed on as one.
    [LibraryImport(Library, EntryPoint = "vsnprintf")]
    public static partial int VsnPrintf(byte* buffer, nuint size, byte* format, nint args);
}
