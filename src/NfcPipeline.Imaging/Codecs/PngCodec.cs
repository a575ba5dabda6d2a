using System.Buffers;
using NfcPipeline.Imaging.Headers;
using NfcPipeline.Imaging.Native;
using static NfcPipeline.Imaging.Native.LibPngNative;

namespace NfcPipeline.Imaging.Codecs;

/// <summary>
/// PNG through libpng's simplified API. 8-bit files are read as RGB (gray and palette expand) or RGBA;
/// 16-bit files are read LINEAR, which gives the stored uint16 values, and scaled to 8 bits here.
/// Alpha is read and dropped here: asking libpng for RGB would composite onto the buffer.
/// </summary>
internal static unsafe class PngCodec
{
    public static RgbImage Decode(ReadOnlySpan<byte> data, ImageDecodeOptions options, List<string> notes)
    {
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
                if (sixteenBit)
                    ReadSixteenBit(data, &image, width, height, alpha, rgb);
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
        byte[] rgba = ArrayPool<byte>.Shared.Rent(count * 4);
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
            ArrayPool<byte>.Shared.Return(rgba);
        }
    }

    private static void ReadSixteenBit(ReadOnlySpan<byte> data, PngImage* image, int width, int height, bool alpha, byte[] rgb)
    {
        int channels = alpha ? 4 : 3;
        int count = width * height;
        ushort[] wide = ArrayPool<ushort>.Shared.Rent(count * channels);
        try
        {
            image->Format = alpha ? FormatLinearRgba : FormatLinearRgb;
            fixed (ushort* dst = wide)
                FinishOrThrow(data, image, dst, width * channels);
            var src = wide.AsSpan(0, count * channels);
            for (int i = 0, o = 0; o < rgb.Length; i += channels, o += 3)
            {
                if (alpha)
                {
                    // libpng premultiplies linear output by alpha; undo it to drop alpha without compositing.
                    uint a = src[i + 3];
                    rgb[o] = To8Bit(Unpremultiply(src[i], a));
                    rgb[o + 1] = To8Bit(Unpremultiply(src[i + 1], a));
                    rgb[o + 2] = To8Bit(Unpremultiply(src[i + 2], a));
                }
                else
                {
                    rgb[o] = To8Bit(src[i]);
                    rgb[o + 1] = To8Bit(src[i + 1]);
                    rgb[o + 2] = To8Bit(src[i + 2]);
                }
            }
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(wide);
        }
    }

    /// <summary>round(v × 255 / 65535): 65535 → 255, 257·n → n.</summary>
    internal static byte To8Bit(uint value) => (byte)((value * 255 + 32767) / 65535);

    private static uint Unpremultiply(uint value, uint alpha) =>
        alpha == 0 ? 0 : alpha == 65535 ? value : Math.Min(65535u, (value * 65535 + alpha / 2) / alpha);

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
