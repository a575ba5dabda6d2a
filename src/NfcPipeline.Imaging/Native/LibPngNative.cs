using System.Runtime.InteropServices;
using System.Text;

namespace NfcPipeline.Imaging.Native;

/// <summary>
/// libpng 1.6's simplified API (png.h, "png_image"). libpng's own setjmp/longjmp stays inside these
/// calls: failures come back as a zero return and a message in <see cref="PngImage.Message"/>.
/// </summary>
internal static unsafe partial class LibPngNative
{
    public const string Library = "libpng16.so.16";

    public const uint ImageVersion = 1; // PNG_IMAGE_VERSION

    // PNG_FORMAT_FLAG_*
    public const uint FormatFlagAlpha = 0x01;
    public const uint FormatFlagColor = 0x02;
    public const uint FormatFlagLinear = 0x04;

    public const uint FormatRgb = FormatFlagColor;
    public const uint FormatRgba = FormatFlagColor | FormatFlagAlpha;
    public const uint FormatLinearRgb = FormatFlagLinear | FormatFlagColor;
    public const uint Flag16BitSrgb = 0x04;   // PNG_IMAGE_FLAG_16BIT_sRGB: 16-bit data without gAMA/sRGB is sRGB-encoded

    // warning_or_error bits
    public const uint Warning = 1;
    public const uint Error = 2;

    /// <summary>png_image from png.h; layout must match exactly.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PngImage
    {
        public nint Opaque;
        public uint Version;
        public uint Width;
        public uint Height;
        public uint Format;
        public uint Flags;
        public uint ColormapEntries;
        public uint WarningOrError;
        public fixed byte MessageBytes[64];

        public readonly string Message
        {
            get
            {
                fixed (byte* p = MessageBytes)
                {
                    var span = new ReadOnlySpan<byte>(p, 64);
                    int end = span.IndexOf((byte)0);
                    return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
                }
            }
        }
    }

    [LibraryImport(Library, EntryPoint = "png_image_begin_read_from_memory")]
    public static partial int BeginReadFromMemory(PngImage* image, byte* memory, nuint size);

    /// <param name="rowStride">In components (bytes for 8-bit formats, uint16 for linear ones).</param>
    [LibraryImport(Library, EntryPoint = "png_image_finish_read")]
    public static partial int FinishRead(PngImage* image, void* background, void* buffer, int rowStride, void* colormap);

    [LibraryImport(Library, EntryPoint = "png_image_free")]
    public static partial void Free(PngImage* image);

    /// <summary>Since libpng 1.6.29. With memory null it reports the size needed in memoryBytes.</summary>
    [LibraryImport(Library, EntryPoint = "png_image_write_to_memory")]
    public static partial int WriteToMemory(PngImage* image, void* memory, nuint* memoryBytes, int convertTo8Bit, void* buffer, int rowStride, void* colormap);

    [LibraryImport(Library, EntryPoint = "png_access_version_number")]
    public static partial uint AccessVersionNumber();
}
