using NfcPipeline.Imaging.Headers;
using NfcPipeline.Imaging.Native;

namespace NfcPipeline.Imaging.Codecs;

/// <summary>JPEG through TurboJPEG: RGB and gray straight to RGB, CMYK/YCCK through a CMYK buffer; EXIF orientation applied after.</summary>
internal static unsafe class JpegCodec
{
    public static RgbImage Decode(ReadOnlySpan<byte> data, JpegHeader header, ImageDecodeOptions options, List<string> notes)
    {
        // libjpeg keeps only its first warning: one from the header would hide damage in the scan.
        if (JpegHeader.WithoutHeaderWarnings(data, notes) is { } clean)
        {
            data = clean;
            header = JpegHeader.Read(clean);
        }
        // A file whose one scan is followed by no end-of-image marker (some frame grabbers write none) is decoded with
        // the marker appended: a scan that is whole then decodes cleanly; one cut short still meets the marker early.
        bool endAppended = !HasEndOfImage(data, header) && header.IsSingleScan(data);
        if (endAppended)
        {
            byte[] withEnd = new byte[data.Length + 2];
            data.CopyTo(withEnd);
            withEnd[^2] = 0xFF;
            withEnd[^1] = 0xD9;
            data = withEnd;
        }
        nint handle = TurboJpegNative.InitDecompress();
        if (handle == 0)
            throw new InvalidOperationException("libjpeg-turbo could not create a decompressor");
        try
        {
            fixed (byte* src = data)
            {
                if (TurboJpegNative.DecompressHeader3(handle, src, (nuint)data.Length, out int width, out int height, out _, out int colorspace) != 0)
                {
                    // A warning (an unknown JFIF revision, stray bytes) still gives the header; the decode says the rest.
                    if (IsWarning(handle))
                        AddWarning(notes, TurboJpegNative.ErrorMessage(handle));
                    else if (TurboJpegNative.ErrorMessage(handle).Contains("Could not determine subsampling type", StringComparison.Ordinal))
                    {
                        // Sampling factors TurboJPEG has no name for (luma 4x2, 1x4, ...): libjpeg decodes them all the
                        // same, so the size and colour space come from the managed header parser instead.
                        (width, height) = (header.Width, header.Height);
                        colorspace = header.Components == 4 ? TurboJpegNative.ColorspaceCmyk : 0;
                        notes.Add("JPEG with chroma sampling factors TurboJPEG does not name: decoded by libjpeg");
                    }
                    else
                        throw Classify(handle, "reading the header");
                }
                int orientation = options.ApplyExifOrientation ? header.Orientation : 1;
                bool swaps = orientation >= 5;
                DecodeLimits.CheckDimensions(options, ImageFormat.Jpeg, swaps ? height : width, swaps ? width : height);

                // Zeroed: no earlier image's bytes can ever come out of a decode that wrote fewer rows than it said.
                byte[] rgb = new byte[width * height * 3];
                var ending = endAppended ? Ending.Appended : HasEndOfImage(data, header) ? Ending.Present : Ending.Missing;
                // libjpeg reports YCCK only for an Adobe marker with transform 2, so YCCK is Adobe's inverted storage.
                bool inverted = header.HasAdobeMarker || colorspace == TurboJpegNative.ColorspaceYcck;
                if (colorspace is TurboJpegNative.ColorspaceCmyk or TurboJpegNative.ColorspaceYcck)
                    DecodeCmyk(handle, src, data.Length, width, height, inverted, rgb, notes, ending);
                else
                {
                    fixed (byte* dst = rgb)
                        Check(handle, TurboJpegNative.Decompress2(handle, src, (nuint)data.Length, dst, width, width * 3, height, TurboJpegNative.PixelFormatRgb, Flags), notes, ending);
                    if (header.Components == 1)
                        notes.Add("gray JPEG expanded to RGB");
                }

                if (endAppended)
                    notes.Add("JPEG without an end-of-image marker: its one scan decoded whole");
                if (header.RawOrientation is { } raw && raw is < 1 or > 8)
                    notes.Add($"EXIF orientation {raw} is not valid (1-8): ignored");
                else if (orientation != 1)
                    notes.Add($"EXIF orientation {orientation} applied");
                else if (header.Orientation != 1)
                    notes.Add($"EXIF orientation {header.Orientation} not applied (disabled by options)");
                byte[] oriented = Orientation.Apply(rgb, width, height, orientation, out int outWidth, out int outHeight);
                return new RgbImage(outWidth, outHeight, oriented, ImageFormat.Jpeg, notes.ToArray());
            }
        }
        finally
        {
            TurboJpegNative.Destroy(handle);
        }
    }

    private static void DecodeCmyk(nint handle, byte* src, int length, int width, int height, bool adobe, byte[] rgb, List<string> notes, Ending ending)
    {
        int count = width * height;
        byte[] cmyk = Scratch.Rent<byte>(count * 4);
        Array.Clear(cmyk, 0, count * 4);   // a pooled buffer holds an earlier image: never let it through
        try
        {
            fixed (byte* dst = cmyk)
                Check(handle, TurboJpegNative.Decompress2(handle, src, (nuint)length, dst, width, width * 4, height, TurboJpegNative.PixelFormatCmyk, Flags), notes, ending);
            CmykToRgb(cmyk.AsSpan(0, count * 4), rgb, inverted: adobe);
            notes.Add(adobe
                ? "CMYK JPEG converted to RGB (Adobe inverted CMYK, no colour management)"
                : "CMYK JPEG converted to RGB (plain CMYK, no colour management)");
        }
        finally
        {
            Scratch.Return(cmyk);
        }
    }

    /// <summary>
    /// Naive conversion, as libjpeg-turbo's own cmyk.h does: with Adobe's inverted storage R = C·K/255;
    /// with plain ink amounts R = (255−C)(255−K)/255.
    /// </summary>
    internal static void CmykToRgb(ReadOnlySpan<byte> cmyk, Span<byte> rgb, bool inverted)
    {
        for (int i = 0, o = 0; i + 3 < cmyk.Length; i += 4, o += 3)
        {
            int c = cmyk[i], m = cmyk[i + 1], y = cmyk[i + 2], k = cmyk[i + 3];
            if (!inverted)
            {
                c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k;
            }
            rgb[o] = (byte)((c * k + 127) / 255);
            rgb[o + 1] = (byte)((m * k + 127) / 255);
            rgb[o + 2] = (byte)((y * k + 127) / 255);
        }
    }

    /// <summary>Progressive JPEGs of more than 500 scans are refused: each scan is a pass over the whole image.</summary>
    private const int Flags = TurboJpegNative.FlagLimitScans;

    /// <summary>
    /// Whether an end-of-image marker follows the first scan's start. Entropy-coded data cannot hold FF D9 (FF bytes are
    /// stuffed), so its absence means the file was cut short. Searched forwards: data after the image (a motion photo's
    /// video, a vendor's trailer) may hold FF DA with no FF D9 after it, and the last FF DA's was taken for a cut.
    /// </summary>
    internal static bool HasEndOfImage(ReadOnlySpan<byte> data, JpegHeader header) =>
        data[Math.Clamp(header.FirstScanOffset, 0, data.Length)..].IndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]) >= 0;

    /// <summary>The file's end-of-image marker: there, missing, or missing and appended to a single-scan file.</summary>
    private enum Ending { Present, Missing, Appended }

    private static void Check(nint handle, int result, List<string> notes, Ending ending)
    {
        if (result == 0)
            return;
        if (IsWarning(handle))
        {
            string warning = TurboJpegNative.ErrorMessage(handle);
            // libjpeg fills a premature end with gray and calls it a warning; a partial image is no result for us. It
            // reports only its first warning, so a cut after an earlier one shows as a missing end-of-image marker.
            if (IsPrematureEnd(warning))
                throw new ImageDecodeException(ImageDecodeError.Truncated, $"JPEG: {warning}");
            if (ending == Ending.Missing)
                throw new ImageDecodeException(ImageDecodeError.Truncated, $"JPEG: the file ends before its end-of-image marker (first warning: {warning})");
            // Cut short (its marker appended here): any warning but stray bytes may have hidden a cut scan's.
            if (ending == Ending.Appended && !warning.Contains("extraneous bytes before marker", StringComparison.Ordinal))
                throw new ImageDecodeException(ImageDecodeError.Truncated, $"JPEG: the file ends inside its scan, with no end-of-image marker ({warning})");
            // Damage inside the scan: libjpeg decodes on from wherever it lands (a fifth to a half of a test image came
            // out wrong), so the pixels are no image to measure. Stray bytes before a marker (some cameras pad) pass,
            // with the warning recorded.
            if (IsDamagedScan(warning))
                throw new ImageDecodeException(ImageDecodeError.Corrupt, $"JPEG: {warning}: the decoded pixels would be wrong");
            AddWarning(notes, warning);
            return;
        }
        throw Classify(handle, "decoding");
    }

    /// <summary>libjpeg's warnings for entropy-coded data it could not follow (jerror.h: JWRN_HUFF_BAD_CODE,
    /// JWRN_ARITH_BAD_CODE, JWRN_MUST_RESYNC, JWRN_HIT_MARKER).</summary>
    private static readonly string[] DamagedScanTexts =
    [
        "Corrupt JPEG data: bad Huffman code", "Corrupt JPEG data: bad arithmetic code", "Corrupt JPEG data: found marker",
        "Corrupt JPEG data: premature end of data segment",
    ];

    /// <summary>A libjpeg warning that the scan's data is damaged (also as libtiff passes it on, after its module).</summary>
    internal static bool IsDamagedScan(string warning) => DamagedScanTexts.Any(t => warning.Contains(t, StringComparison.Ordinal));

    /// <summary>libjpeg's warning texts (jerror.h, JWRN_*).</summary>
    private static readonly string[] WarningTexts =
    [
        "Corrupt JPEG data", "Premature end of JPEG file", "Warning: unknown JFIF revision", "Inconsistent progression sequence",
        "Invalid SOS parameters for sequential JPEG", "Unknown Adobe color transform", "Application transferred too many scanlines",
    ];

    /// <summary>
    /// A warning, not an error. TurboJPEG keeps its warning flag through a fatal error that follows a warning (JFIF
    /// 2.x, then an undefined quantization table) and reports the error with the warning code and the error's text:
    /// only libjpeg's own warning texts count, so such a decode fails instead of returning rows it never wrote.
    /// </summary>
    private static bool IsWarning(nint handle)
    {
        if (TurboJpegNative.GetErrorCode(handle) != TurboJpegNative.ErrorWarning) return false;
        var message = TurboJpegNative.ErrorMessage(handle);
        return WarningTexts.Any(w => message.StartsWith(w, StringComparison.Ordinal));
    }

    private static void AddWarning(List<string> notes, string warning)
    {
        string note = $"libjpeg-turbo warning: {warning}";
        if (!notes.Contains(note)) notes.Add(note);
    }

    private static ImageDecodeException Classify(nint handle, string stage)
    {
        string message = TurboJpegNative.ErrorMessage(handle);
        // "Unsupported marker type" is a damaged scan (a stray FF xx), not a variant to re-export in.
        var reason = IsPrematureEnd(message) ? ImageDecodeError.Truncated
            : message.StartsWith("Unsupported marker type", StringComparison.Ordinal) ? ImageDecodeError.Corrupt
            : message.StartsWith("Maximum supported image dimension", StringComparison.Ordinal) ? ImageDecodeError.TooLarge
            : message.Contains("nsupported", StringComparison.Ordinal) || message.Contains("not supported", StringComparison.Ordinal) ? ImageDecodeError.Unsupported
            : ImageDecodeError.Corrupt;
        return new ImageDecodeException(reason, $"JPEG {stage}: {message}");
    }

    /// <summary>The file ended (JWRN_JPEG_EOF, JERR_INPUT_EOF); not "premature end of data segment", which is damage.</summary>
    private static bool IsPrematureEnd(string message) =>
        message.Contains("Premature end", StringComparison.Ordinal);
}
