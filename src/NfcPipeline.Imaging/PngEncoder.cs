using NfcPipeline.Imaging.Native;

namespace NfcPipeline.Imaging;

/// <summary>8-bit RGB or RGBA to PNG bytes through libpng's simplified write API (libpng ≥ 1.6.29).</summary>
public static unsafe class PngEncoder
{
    public static byte[] Encode(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Encode(image.Pixels, image.Width, image.Height, hasAlpha: false);
    }

    /// <param name="rgb">Width × Height × 3 bytes, row-major, top row first.</param>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height) => Encode(rgb, width, height, hasAlpha: false);

    /// <param name="rgba">Width × Height × 4 bytes, straight (not premultiplied) alpha.</param>
    public static byte[] EncodeRgba(ReadOnlySpan<byte> rgba, int width, int height) => Encode(rgba, width, height, hasAlpha: true);

    private static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, bool hasAlpha)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int channels = hasAlpha ? 4 : 3;
        long expected = (long)width * height * channels;
        if (pixels.Length != expected)
            throw new ArgumentException($"expected {expected} bytes for {width}x{height}x{channels}, got {pixels.Length}", nameof(pixels));

        // Deflate can exceed its input slightly; a first guess above the raw size almost always fits.
        long guess = expected + height + expected / 64 + 4096;
        if (guess > Array.MaxLength)
            guess = Array.MaxLength;
        fixed (byte* src = pixels)
        {
            while (true)
            {
                byte[] output = Scratch.Rent<byte>((int)guess);   // not ArrayPool: a full-size overlay's buffer would stay per thread
                try
                {
                    nuint size = (nuint)output.Length;
                    LibPngNative.PngImage image = default;
                    image.Version = LibPngNative.ImageVersion;
                    image.Width = (uint)width;
                    image.Height = (uint)height;
                    image.Format = hasAlpha ? LibPngNative.FormatRgba : LibPngNative.FormatRgb;
                    int ok;
                    fixed (byte* dst = output)
                        ok = LibPngNative.WriteToMemory(&image, dst, &size, 0, src, width * channels, null);
                    LibPngNative.Free(&image);
                    if (ok != 0)
                        return output.AsSpan(0, (int)size).ToArray();
                    if (size <= (nuint)output.Length || size > (nuint)Array.MaxLength)
                        throw new InvalidOperationException($"libpng could not encode {width}x{height}: {image.Message}");
                    guess = (long)size; // too small: libpng reported the size it needs
                }
                finally
                {
                    Scratch.Return(output);
                }
            }
        }
    }
}
