using NfcPipeline.Imaging.Headers;
using NfcPipeline.Imaging.Native;
using static NfcPipeline.Imaging.Native.LibPngNative;

namespace NfcPipeline.Imaging.Codecs;

/// <summary>
/// PNG through libpng's simplified API. 8-bit files are read as RGB (gray and palette expand) or RGBA;
/// 16-bit files are read LINEAR, which gives the stored uint16 values, and scaled to 8 bits here; 16-bit files with
/// alpha are read as 8-bit RGBA (libpng's linear output is premultiplied), unless interlaced (see
/// <see cref="ReadInterlacedSixteenBitWithAlpha"/>).
/// Alpha is read and dropped here: asking libpng for RGB would composite onto the buffer.
/// Colour-management chunks are left out first, so the stored values are analysed, as in JPEG and TIFF.
/// </summary>
internal static unsafe class PngCodec
{
    public static RgbImage Decode(ReadOnlySpan<byte> data, ImageDecodeOptions options, List<string> notes)
    {
        // libpng would convert the pixels as gAMA/sRGB/iCCP/cHRM say (a gray 128 under gAMA 1.0 came out 186, a 16-bit
        // one under sRGB 56), so one image would reach the model brighter or darker by what its exporter wrote.
        if (PngHeader.WithoutColourChunks(data, out var dropped) is { } stored)
        {
            // An 8-bit file's sRGB chunk only says what is assumed anyway (libpng's own writer adds it): no note for it.
            if (dropped.Any(name => name != "sRGB") || PngHeader.Read(data).BitDepth == 16)
                // Each name once: a crafted file of a million gAMA chunks made a note of megabytes, stored with its result.
                notes.Add($"PNG colour management ignored ({string.Join(", ", dropped.Distinct())}): the stored values are analysed");
            data = stored;
        }
        PngImage image = default;
        image.Version = ImageVersion;
        try
        {
            fixed (byte* src = data)
            {
                if (BeginReadFromMemory(&image, src, (nuint)data.Length) == 0)
                    throw Classify(data, image.Message, "reading the header");
                int width = (int)image.Width, height = (int)image.Height;
                DecodeLimits.CheckDimensions(options, ImageFormat.Png, image.Width, image.Height);

                uint fileFormat = image.Format;
                bool alpha = (fileFormat & FormatFlagAlpha) != 0;
                bool sixteenBit = (fileFormat & FormatFlagLinear) != 0;
                byte[] rgb = GC.AllocateUninitializedArray<byte>(width * height * 3);
                if (sixteenBit && alpha && PngHeader.Read(data).Interlaced)
                    ReadInterlacedSixteenBitWithAlpha(data, &image, width, height, rgb, notes);
                else if (sixteenBit && alpha)
                {
                    // libpng premultiplies its linear (16-bit) output, which loses the colour where alpha is 0 or low.
                    // Its 8-bit output is not premultiplied; with 16BIT_sRGB the stored values are scaled, not
                    // gamma-encoded (the file's own gAMA or sRGB is gone, above).
                    image.Flags |= Flag16BitSrgb;
                    ReadWithAlpha(data, &image, width, height, rgb);
                }
                else if (sixteenBit)
                    ReadSixteenBit(data, &image, width, height, rgb);
                else if (alpha)
                    ReadWithAlpha(data, &image, width, height, rgb);
                else
                {
                    image.Format = FormatRgb;
                    fixed (byte* dst = rgb)
                        FinishOrThrow(data, &image, dst, width * 3);
                }

                if (sixteenBit)
                    notes.Add("16-bit PNG reduced to 8-bit");
                if (alpha)
                    notes.Add("alpha channel dropped");
                if ((image.WarningOrError & Warning) != 0)
                    notes.Add($"libpng warning: {image.Message}");
                // libpng stops after the last row and never reads on: a file cut after its image data decodes whole.
                if (PngHeader.EndsBeforeIend(data))
                    notes.Add("the file ends before its IEND chunk (cut short while copied?); its image data was complete");
                return new RgbImage(width, height, rgb, ImageFormat.Png, notes.ToArray());
            }
        }
        finally
        {
            Free(&image);
        }
    }

    private static void ReadWithAlpha(ReadOnlySpan<byte> data, PngImage* image, int width, int height, byte[] rgb)
    {
        int count = width * height;
        byte[] rgba = Scratch.Rent<byte>(count * 4);
        try
        {
            image->Format = FormatRgba;
            fixed (byte* dst = rgba)
                FinishOrThrow(data, image, dst, width * 4);
            var src = rgba.AsSpan(0, count * 4);
            for (int i = 0, o = 0; o < rgb.Length; i += 4, o += 3)
            {
                rgb[o] = src[i];
                rgb[o + 1] = src[i + 1];
                rgb[o + 2] = src[i + 2];
            }
        }
        finally
        {
            Scratch.Return(rgba);
        }
    }

    /// <summary>
    /// libpng's 8-bit reading of an interlaced 16-bit file with alpha merges its passes wrongly (half the pixels off by up
    /// to 241 levels; before libpng 1.6.51 it wrote past the buffer, CVE-2025-65018). Its linear output is right but
    /// premultiplied: the colour is divided back out, exact where opaque, lost where alpha is 0.
    /// </summary>
    private static void ReadInterlacedSixteenBitWithAlpha(ReadOnlySpan<byte> data, PngImage* image, int width, int height, byte[] rgb,
        List<string> notes)
    {
        int count = width * height;
        ushort[] wide = Scratch.Rent<ushort>(count * 4);
        try
        {
            image->Format = FormatLinearRgb | FormatFlagAlpha;
            fixed (ushort* dst = wide)
                FinishOrThrow(data, image, dst, width * 4);
            var src = wide.AsSpan(0, count * 4);
            long transparent = 0;
            for (int i = 0, o = 0; o < rgb.Length; i += 4, o += 3)
            {
                uint a = src[i + 3];
                if (a == 0) transparent++;
                for (int c = 0; c < 3; c++)
                    rgb[o + c] = a == 0 ? (byte)0 : To8Bit(Math.Min(65535u, (uint)(((ulong)src[i + c] * 65535 + a / 2) / a)));
            }
            if (transparent > 0)
                notes.Add($"interlaced 16-bit PNG read premultiplied by its alpha: {transparent} fully transparent pixel(s) have no colour (black)");
        }
        finally
        {
            Scratch.Return(wide);
        }
    }

    private static void ReadSixteenBit(ReadOnlySpan<byte> data, PngImage* image, int width, int height, byte[] rgb)
    {
        int count = width * height;
        ushort[] wide = Scratch.Rent<ushort>(count * 3);
        try
        {
            image->Format = FormatLinearRgb;
            fixed (ushort* dst = wide)
                FinishOrThrow(data, image, dst, width * 3);
            var src = wide.AsSpan(0, count * 3);
            for (int i = 0; i < rgb.Length; i++)
                rgb[i] = To8Bit(src[i]);
        }
        finally
        {
            Scratch.Return(wide);
        }
    }

    /// <summary>round(v × 255 / 65535): 65535 → 255, 257·n → n.</summary>
    internal static byte To8Bit(uint value) => (byte)((value * 255 + 32767) / 65535);

    private static void FinishOrThrow(ReadOnlySpan<byte> data, PngImage* image, void* buffer, int rowStride)
    {
        if (FinishRead(image, null, buffer, rowStride, null) == 0)
            throw Classify(data, image->Message, "decoding");
    }

    private static ImageDecodeException Classify(ReadOnlySpan<byte> data, string message, string stage)
    {
        // libpng's message for running out of data varies by where it happens; the chunk walk does not.
        if (PngHeader.EndsBeforeIend(data))
            return new ImageDecodeException(ImageDecodeError.Truncated, $"PNG {stage}: data ends before IEND ({message})");
        return new ImageDecodeException(ImageDecodeError.Corrupt, $"PNG {stage}: {message}");
    }
}
