using System.Runtime.InteropServices;

namespace NfcPipeline.Imaging.Native;

/// <summary>libjpeg-turbo's TurboJPEG API (turbojpeg.h, 2.x). Errors come back as return codes, never as a longjmp out of our frame.</summary>
internal static unsafe partial class TurboJpegNative
{
    // Debian ships only the versioned soname (package libturbojpeg0).
    public const string Library = "libturbojpeg.so.0";

    public const int PixelFormatRgb = 0;   // TJPF_RGB
    public const int PixelFormatCmyk = 11; // TJPF_CMYK

    public const int ColorspaceCmyk = 3; // TJCS_CMYK
    public const int ColorspaceYcck = 4; // TJCS_YCCK

    public const int ErrorWarning = 0; // TJERR_WARNING: the image was decoded, possibly damaged
    public const int FlagLimitScans = 32768; // TJFLAG_LIMITSCANS: a progressive JPEG of more than 500 scans is an error

    [LibraryImport(Library, EntryPoint = "tjInitDecompress")]
    public static partial nint InitDecompress();

    [LibraryImport(Library, EntryPoint = "tjInitCompress")]
    public static partial nint InitCompress();

    // unsigned long is 64-bit on LP64 Linux.
    [LibraryImport(Library, EntryPoint = "tjDecompressHeader3")]
    public static partial int DecompressHeader3(nint handle, byte* jpegBuf, nuint jpegSize, out int width, out int height, out int subsampling, out int colorspace);

    [LibraryImport(Library, EntryPoint = "tjDecompress2")]
    public static partial int Decompress2(nint handle, byte* jpegBuf, nuint jpegSize, byte* dstBuf, int width, int pitch, int height, int pixelFormat, int flags);

    [LibraryImport(Library, EntryPoint = "tjCompress2")]
    public static partial int Compress2(nint handle, byte* srcBuf, int width, int pitch, int height, int pixelFormat, byte** jpegBuf, nuint* jpegSize, int subsampling, int quality, int flags);

    [LibraryImport(Library, EntryPoint = "tjFree")]
    public static partial void Free(byte* buffer);

    [LibraryImport(Library, EntryPoint = "tjGetErrorStr2")]
    public static partial byte* GetErrorStr2(nint handle);

    [LibraryImport(Library, EntryPoint = "tjGetErrorCode")]
    public static partial int GetErrorCode(nint handle);

    [LibraryImport(Library, EntryPoint = "tjDestroy")]
    public static partial int Destroy(nint handle);

    public static string ErrorMessage(nint handle) =>
        Marshal.PtrToStringUTF8((nint)GetErrorStr2(handle)) ?? "unknown libjpeg-turbo error";
}
