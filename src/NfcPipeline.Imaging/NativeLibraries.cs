using System.Runtime.InteropServices;
using NfcPipeline.Imaging.Native;

namespace NfcPipeline.Imaging;

/// <summary>Which native codec libraries this process uses, for recording next to results.</summary>
public static unsafe class NativeLibraries
{
    /// <summary>For example "libpng 1.6.39; LIBTIFF, Version 4.5.0; libturbojpeg.so.0". Loads the libraries.</summary>
    public static string Describe()
    {
        uint png = LibPngNative.AccessVersionNumber(); // e.g. 10639 for 1.6.39
        string tiff = (Marshal.PtrToStringUTF8((nint)LibTiffNative.GetVersion()) ?? "libtiff").Split('\n')[0];
        // TurboJPEG 2.x has no version call; the soname is what can be told without one.
        nint jpeg = TurboJpegNative.InitDecompress();
        if (jpeg != 0)
            TurboJpegNative.Destroy(jpeg);
        return $"libpng {png / 10000}.{png / 100 % 100}.{png % 100}; {tiff}; {TurboJpegNative.Library}";
    }
}
