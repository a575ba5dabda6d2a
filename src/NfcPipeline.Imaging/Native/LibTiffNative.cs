using System.Runtime.InteropServices;

namespace NfcPipeline.Imaging.Native;

/// <summary>
/// libtiff 4.x (tiffio.h): client-opened handles over memory and the RGBA image reader. libtiff reports
/// problems through handler callbacks and return codes; it has no longjmp or abort path.
/// </summary>
internal static unsafe partial class LibTiffNative
{
    public const string Library = "libtiff.so.6";

    public const ushort OrientationTopLeft = 1; // ORIENTATION_TOPLEFT
    public const ushort PhotometricMinIsWhite = 0; // PHOTOMETRIC_MINISWHITE
    public const int ExtraSampleAssociatedAlpha = 1;   // EXTRASAMPLE_ASSOCALPHA
    public const int ExtraSampleUnassociatedAlpha = 2; // EXTRASAMPLE_UNASSALPHA
    public const uint TagExtraSamples = 338;           // TIFFTAG_EXTRASAMPLES
    public const uint TagSampleFormat = 339;           // TIFFTAG_SAMPLEFORMAT
    public const int MessageBufferSize = 1024; // the emsg[1024] of TIFFRGBAImageOK/Begin

    /// <summary>TIFFRGBAImage from tiffio.h; layout must match exactly (144 bytes on LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RgbaImage
    {
        public nint Tif;
        public int StopOnError;
        public int IsContig;
        public int Alpha;
        public uint Width;
        public uint Height;
        public ushort BitsPerSample;
        public ushort SamplesPerPixel;
        public ushort Orientation;
        public ushort RequestedOrientation;
        public ushort Photometric;
        public nint RedColormap;
        public nint GreenColormap;
        public nint BlueColormap;
        public nint Get;
        public nint Put;
        public nint Map;
        public nint BlackWhiteMap;
        public nint PaletteMap;
        public nint YCbCr;
        public nint CieLab;
        public nint UnassociatedToAssociatedAlpha;
        public nint BitDepth16To8;
        public int RowOffset;
        public int ColumnOffset;
    }

    [LibraryImport(Library, EntryPoint = "TIFFClientOpen", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint ClientOpen(
        string name, string mode, nint clientData,
        delegate* unmanaged<nint, byte*, nint, nint> readProc,
        delegate* unmanaged<nint, byte*, nint, nint> writeProc,
        delegate* unmanaged<nint, ulong, int, ulong> seekProc,
        delegate* unmanaged<nint, int> closeProc,
        delegate* unmanaged<nint, ulong> sizeProc,
        delegate* unmanaged<nint, byte**, ulong*, int> mapProc,
        delegate* unmanaged<nint, byte*, ulong, void> unmapProc);

    [LibraryImport(Library, EntryPoint = "TIFFClose")]
    public static partial void Close(nint tif);

    [LibraryImport(Library, EntryPoint = "TIFFRGBAImageOK")]
    public static partial int RgbaImageOk(nint tif, byte* message);

    // TIFFGetField and TIFFSetField are variadic; with integer and pointer arguments only, a fixed signature passes them
    // as the System V x86-64 and AArch64 Linux variadic conventions expect (the AL register only sizes a vector save).
    [LibraryImport(Library, EntryPoint = "TIFFGetField")]
    public static partial int GetExtraSamples(nint tif, uint tag, ushort* count, ushort** types);

    [LibraryImport(Library, EntryPoint = "TIFFGetField")]
    public static partial int GetUInt16(nint tif, uint tag, ushort* value);

    [LibraryImport(Library, EntryPoint = "TIFFSetField")]
    public static partial int SetExtraSamples(nint tif, uint tag, int count, ushort* types);

    [LibraryImport(Library, EntryPoint = "TIFFRGBAImageBegin")]
    public static partial int RgbaImageBegin(RgbaImage* image, nint tif, int stopOnError, byte* message);

    [LibraryImport(Library, EntryPoint = "TIFFRGBAImageGet")]
    public static partial int RgbaImageGet(RgbaImage* image, uint* raster, uint width, uint height);

    [LibraryImport(Library, EntryPoint = "TIFFRGBAImageEnd")]
    public static partial void RgbaImageEnd(RgbaImage* image);

    /// <summary>Process-wide: handler(module, fmt, va_list). Returns the previous handler.</summary>
    [LibraryImport(Library, EntryPoint = "TIFFSetErrorHandler")]
    public static partial nint SetErrorHandler(delegate* unmanaged<byte*, byte*, nint, void> handler);

    [LibraryImport(Library, EntryPoint = "TIFFSetWarningHandler")]
    public static partial nint SetWarningHandler(delegate* unmanaged<byte*, byte*, nint, void> handler);

    [LibraryImport(Library, EntryPoint = "TIFFGetVersion")]
    public static partial byte* GetVersion();

    /// <summary>tdir_t is 32 bits from libtiff 4.5 (libtiff.so.6).</summary>
    [LibraryImport(Library, EntryPoint = "TIFFSetDirectory")]
    public static partial int SetDirectory(nint tif, uint directory);

    [LibraryImport(Library, EntryPoint = "TIFFIsTiled")]
    public static partial int IsTiled(nint tif);

    /// <summary>Bytes of one decoded strip (or tile), the buffer libtiff allocates to read it.</summary>
    [LibraryImport(Library, EntryPoint = "TIFFStripSize64")]
    public static partial ulong StripSize64(nint tif);

    [LibraryImport(Library, EntryPoint = "TIFFTileSize64")]
    public static partial ulong TileSize64(nint tif);
}
