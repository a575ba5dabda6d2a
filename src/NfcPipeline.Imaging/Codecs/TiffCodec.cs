using System.Runtime.InteropServices;
using NfcPipeline.Imaging.Headers;
using NfcPipeline.Imaging.Native;

namespace NfcPipeline.Imaging.Codecs;

/// <summary>
/// TIFF through libtiff's RGBA reader, over the caller's pinned buffer (TIFFClientOpen with memory callbacks).
/// It handles the compressions and photometrics libtiff knows (LZW, Deflate, PackBits, palette, gray, RGBA...).
/// The steps of TIFFReadRGBAImageOriented are done one by one so that the size libtiff itself will use
/// is checked against the limits before the raster is allocated.
/// </summary>
internal static unsafe class TiffCodec
{
    public static RgbImage Decode(ReadOnlySpan<byte> data, TiffHeader header, ImageDecodeOptions options, List<string> notes)
    {
        TiffMessages.Reset();
        RefuseRareCompressions(header);
        fixed (byte* src = data)
        {
            var stream = new MemoryStreamState { Data = src, Length = data.Length };
            nint tif = LibTiffNative.ClientOpen("memory", "r", (nint)(&stream),
                &Read, &Write, &Seek, &Close, &Size, &Map, &Unmap);
            if (tif == 0)
                throw Classify("opening", null);
            try
            {
                if (header.Directory > 0 && LibTiffNative.SetDirectory(tif, (uint)header.Directory) == 0)
                    throw Classify($"reading directory {header.Directory + 1}", null);
                RefuseSignedSamples(tif);
                byte* message = stackalloc byte[LibTiffNative.MessageBufferSize];
                message[0] = 0;
                if (LibTiffNative.RgbaImageOk(tif, message) == 0)
                    throw new ImageDecodeException(ImageDecodeError.Unsupported, $"TIFF: {Text(message)}");
                TreatAlphaAsAssociated(tif);
                LibTiffNative.RgbaImage image = default;
                if (LibTiffNative.RgbaImageBegin(&image, tif, 1, message) == 0)
                    throw Classify("reading the image header", Text(message));
                try
                {
                    // Read as stored (libtiff's own remap folds 5-8 into the flips of 1-4, leaving a transposed image
                    // mirrored), then turned to display orientation as EXIF orientations are. The limits apply to the
                    // displayed size, as for JPEG.
                    int stored = image.Orientation is >= 1 and <= 8 ? image.Orientation : LibTiffNative.OrientationTopLeft;
                    bool swaps = stored >= 5 && options.ApplyExifOrientation;
                    DecodeLimits.CheckDimensions(options, ImageFormat.Tiff, swaps ? image.Height : image.Width, swaps ? image.Width : image.Height);
                    CheckStripSize(tif, image.Width, image.Height);
                    image.RequestedOrientation = (ushort)stored;
                    byte[] rgb = ReadPixels(&image);
                    RefuseDamagedStrips();
                    // libtiff reads grey in separate planes (grey and alpha) as RGB, without MinIsWhite's inverting map
                    // that it applies to grey in one plane: white came out black.
                    if (image.Photometric == LibTiffNative.PhotometricMinIsWhite && image.IsContig == 0)
                        foreach (ref byte v in rgb.AsSpan()) v = (byte)(255 - v);
                    if (image.Alpha != 0)
                        notes.Add("alpha channel dropped");
                    int width = (int)image.Width, height = (int)image.Height;
                    if (stored != 1 && options.ApplyExifOrientation)
                    {
                        rgb = Orientation.Apply(rgb, width, height, stored, out width, out height);
                        notes.Add($"TIFF orientation {stored} applied");
                    }
                    else if (stored != 1)
                        notes.Add($"TIFF orientation {stored} not applied (ApplyExifOrientation is off)");
                    if (header.PreviewOnly)
                        notes.Add("TIFF: only reduced-resolution previews found; the first decoded (its scale may not be the field's µm per pixel)");
                    if (header.Directory > 0)
                        notes.Add($"TIFF: page {header.Directory + 1} of {header.PageCount} used (the pages before it are reduced-resolution previews)");
                    else if (header.PageCount > 1)
                        notes.Add($"multi-page TIFF ({header.PageCount} pages): first page used");
                    foreach (string warning in TiffMessages.Warnings)
                        notes.Add($"libtiff warning: {warning}");
                    return new RgbImage(width, height, rgb, ImageFormat.Tiff, notes.ToArray());
                }
                finally
                {
                    LibTiffNative.RgbaImageEnd(&image);
                }
            }
            finally
            {
                LibTiffNative.Close(tif);
            }
        }
    }

    /// <summary>
    /// libtiff passes libjpeg's warnings on as its own (module JPEGLib), and its fax decoders warn of a strip that ends
    /// early or holds a bad code, and return the image regardless, gray or white from there on: such a TIFF fails as the
    /// same damage in a JPEG file does.
    /// </summary>
    private static void RefuseDamagedStrips()
    {
        // The fax decoders report a bad code word as an error yet may go on: errors and warnings both count.
        if (TiffMessages.Damage is (var message, var reason))
            throw new ImageDecodeException(reason, reason == ImageDecodeError.Truncated
                ? $"TIFF: a compressed strip ends early ({message})" : $"TIFF: a compressed strip is damaged ({message})");
    }

    /// <summary>How a libtiff warning about a strip's data fails the image, or null when it does not.</summary>
    internal static ImageDecodeError? StripDamage(string warning) =>
        warning.Contains("Premature end of JPEG", StringComparison.Ordinal) ? ImageDecodeError.Truncated
        : JpegCodec.IsDamagedScan(warning) ? ImageDecodeError.Corrupt
        // tif_jpeg.c: a strip's JPEG smaller than the strip returns success with the rest of the strip left as the
        // buffer held it (the previous strip's pixels). JBIG, which does the same, is refused before libtiff reads.
        : warning.Contains("Improper JPEG strip/tile size", StringComparison.Ordinal) ? ImageDecodeError.Corrupt
        // tif_fax3.c: Fax3PrematureEOF, Fax3BadLength, Fax3Unexpected, from the modules Fax3Decode1D/2D, Fax4Decode, Fax3DecodeRLE.
        : !warning.StartsWith("Fax", StringComparison.Ordinal) ? null
        : warning.Contains("Premature EOF at line", StringComparison.Ordinal) ? ImageDecodeError.Truncated
        : warning.Contains("Line length mismatch", StringComparison.Ordinal) || warning.Contains("Bad code word", StringComparison.Ordinal)
          || warning.Contains("Premature EOL", StringComparison.Ordinal) || warning.Contains("Uncompressed data", StringComparison.Ordinal)
            ? ImageDecodeError.Corrupt
        : null;

    /// <summary>Bytes per pixel that one decoded strip or tile may take: 8 samples of 16 bits.</summary>
    private const ulong MaxStripBytesPerPixel = 16;

    /// <summary>
    /// libtiff decodes a whole strip (or tile) at once, sized by samples per pixel and bits per sample, which the pixel
    /// limit does not see: a Deflate strip of zeros with thousands of samples per pixel is a few hundred KB on disk and
    /// gigabytes in memory. Refused before libtiff allocates it.
    /// </summary>
    private static void CheckStripSize(nint tif, uint width, uint height)
    {
        ulong unit = LibTiffNative.IsTiled(tif) != 0 ? LibTiffNative.TileSize64(tif) : LibTiffNative.StripSize64(tif);
        // At least a megapixel's worth, so tiles larger than a small image (256x256 tiles for 100x100) still pass.
        ulong budget = Math.Max((ulong)width * height, 1024UL * 1024) * MaxStripBytesPerPixel;   // below 2^36: checked dimensions
        if (unit > budget)
            throw new ImageDecodeException(ImageDecodeError.TooLarge,
                $"TIFF: one {(LibTiffNative.IsTiled(tif) != 0 ? "tile" : "strip")} decodes to {unit} bytes, more than {MaxStripBytesPerPixel} " +
                $"bytes per pixel of the {width}x{height} image (too many samples per pixel?)");
    }

    /// <summary>
    /// libtiff's RGBA reader takes signed (and complex) integer samples as unsigned, so a stored -100 came out bright and
    /// +100 dark, as a valid image. IEEE floating point it refuses itself.
    /// </summary>
    private static void RefuseSignedSamples(nint tif)
    {
        ushort format;
        if (LibTiffNative.GetUInt16(tif, LibTiffNative.TagSampleFormat, &format) == 0) return;   // absent: unsigned
        string? kind = format switch { 2 => "signed integer", 5 => "complex integer", 6 => "complex floating-point", _ => null };
        if (kind is not null)
            throw new ImageDecodeException(ImageDecodeError.Unsupported,
                $"TIFF: {kind} samples (SampleFormat {format}) are not read; export the image with unsigned integer samples");
    }

    /// <summary>
    /// The compressions microscopes and image tools write: none, CCITT RLE and fax 3/4, LZW, JPEG, Deflate (both codes),
    /// PackBits, LZMA, Zstandard, WebP. libtiff's other codecs (old-style JPEG, ThunderScan, PixarLog, JBIG, LERC, SGI
    /// LogLuv, NeXT...) are rarely met and where most of its parser faults were found; a fault inside native code ends
    /// the worker, not one image, so such files are refused before libtiff opens them (its open already readies the
    /// first directory's codec).
    /// </summary>
    private static readonly HashSet<long> ReadCompressions = [1, 2, 3, 4, 5, 7, 8, 32946, 32773, 34925, 50000, 50001];

    private static void RefuseRareCompressions(TiffHeader header)
    {
        foreach (var compression in new[] { header.Compressions.First, header.Compressions.Decoded })
            if (!ReadCompressions.Contains(compression))
                throw new ImageDecodeException(ImageDecodeError.Unsupported,
                    $"TIFF: {(compression == TiffHeader.NotOneCompression ? "a Compression tag that is not one integer value" : $"compression {compression}")} " +
                    "is not read; save the image uncompressed or with LZW, Deflate or JPEG compression");
    }

    /// <summary>
    /// Marks unassociated alpha as associated in the open directory (never in the file: the handle is read-only), so
    /// libtiff passes the colour through as stored: it premultiplied it, and dividing back lost what low alpha had kept
    /// (alpha 0 gave black, alpha 3 coarse colour) and was never undone for planar grey.
    /// </summary>
    private static void TreatAlphaAsAssociated(nint tif)
    {
        ushort count;
        ushort* types;
        if (LibTiffNative.GetExtraSamples(tif, LibTiffNative.TagExtraSamples, &count, &types) == 0 || count == 0 || types == null
            || types[0] != LibTiffNative.ExtraSampleUnassociatedAlpha)
            return;
        ushort* associated = stackalloc ushort[count];
        for (int i = 0; i < count; i++) associated[i] = types[i];
        associated[0] = LibTiffNative.ExtraSampleAssociatedAlpha;
        LibTiffNative.SetExtraSamples(tif, LibTiffNative.TagExtraSamples, count, associated);
    }

    private static byte[] ReadPixels(LibTiffNative.RgbaImage* image)
    {
        int width = (int)image->Width, height = (int)image->Height, count = width * height;
        uint[] raster = Scratch.Rent<uint>(count);
        try
        {
            fixed (uint* dst = raster)
            {
                if (LibTiffNative.RgbaImageGet(image, dst, image->Width, image->Height) == 0)
                {
                    RefuseDamagedStrips();   // a strip's damage names the failure better than libtiff's last error
                    throw Classify("decoding", null);
                }
            }
            byte[] rgb = GC.AllocateUninitializedArray<byte>(count * 3);
            // Each raster word is A<<24 | B<<16 | G<<8 | R, the colour as stored (TreatAlphaAsAssociated).
            var words = raster.AsSpan(0, count);
            for (int i = 0, o = 0; i < words.Length; i++, o += 3)
            {
                uint p = words[i];
                rgb[o] = (byte)p;
                rgb[o + 1] = (byte)(p >> 8);
                rgb[o + 2] = (byte)(p >> 16);
            }
            return rgb;
        }
        finally
        {
            Scratch.Return(raster);
        }
    }

    private static ImageDecodeException Classify(string stage, string? message)
    {
        string text = string.Join("; ", message is null ? TiffMessages.Errors : [message, .. TiffMessages.Errors]);
        if (text.Length == 0)
            text = "libtiff gave no reason";
        var reason =
            text.Contains("Read error", StringComparison.OrdinalIgnoreCase) || text.Contains("Seek error", StringComparison.OrdinalIgnoreCase) ||
            text.Contains("end of file", StringComparison.OrdinalIgnoreCase) || text.Contains("Cannot read", StringComparison.OrdinalIgnoreCase)
                ? ImageDecodeError.Truncated
            : text.Contains("Sorry", StringComparison.Ordinal) || text.Contains("not supported", StringComparison.OrdinalIgnoreCase) ||
              text.Contains("unsupported", StringComparison.OrdinalIgnoreCase) || text.Contains("not configured", StringComparison.OrdinalIgnoreCase)
                ? ImageDecodeError.Unsupported
            : ImageDecodeError.Corrupt;
        return new ImageDecodeException(reason, $"TIFF {stage}: {text}");
    }

    private static string Text(byte* message) => Marshal.PtrToStringUTF8((nint)message) ?? "";

    [StructLayout(LayoutKind.Sequential)]
    private struct MemoryStreamState
    {
        public byte* Data;
        public long Length;
        public long Position;
    }

    [UnmanagedCallersOnly]
    private static nint Read(nint handle, byte* buffer, nint size)
    {
        var s = (MemoryStreamState*)handle;
        long n = Math.Max(0, Math.Min(size, s->Length - s->Position));
        Buffer.MemoryCopy(s->Data + s->Position, buffer, size, n);
        s->Position += n;
        return (nint)n;
    }

    [UnmanagedCallersOnly]
    private static nint Write(nint handle, byte* buffer, nint size) => 0; // opened read-only

    [UnmanagedCallersOnly]
    private static ulong Seek(nint handle, ulong offset, int whence)
    {
        var s = (MemoryStreamState*)handle;
        long target = whence switch
        {
            0 => (long)offset,                 // SEEK_SET
            1 => s->Position + (long)offset,   // SEEK_CUR (offset may be a negative value cast to unsigned)
            _ => s->Length + (long)offset,     // SEEK_END
        };
        if (target < 0)
            return ulong.MaxValue; // (toff_t)-1: failure
        s->Position = target;
        return (ulong)target;
    }

    [UnmanagedCallersOnly]
    private static int Close(nint handle) => 0;

    [UnmanagedCallersOnly]
    private static ulong Size(nint handle) => (ulong)((MemoryStreamState*)handle)->Length;

    // Mapping the pinned buffer lets libtiff read strips in place instead of copying them.
    [UnmanagedCallersOnly]
    private static int Map(nint handle, byte** data, ulong* size)
    {
        var s = (MemoryStreamState*)handle;
        *data = s->Data;
        *size = (ulong)s->Length;
        return 1;
    }

    [UnmanagedCallersOnly]
    private static void Unmap(nint handle, byte* data, ulong size)
    {
    }
}
