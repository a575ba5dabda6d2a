namespace NfcPipeline.Imaging;

/// <summary>
/// A decoded image: 8-bit RGB, interleaved, row-major, top row first, no padding.
/// <see cref="Pixels"/> is a plain array of exactly Width × Height × 3 bytes that the caller owns.
/// </summary>
public sealed class RgbImage
{
    public RgbImage(int width, int height, byte[] pixels, ImageFormat sourceFormat, IReadOnlyList<string>? notes = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != (long)width * height * 3)
            throw new ArgumentException($"expected {(long)width * height * 3} bytes for {width}x{height} RGB, got {pixels.LongLength}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
        SourceFormat = sourceFormat;
        Notes = notes ?? [];
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>R, G, B for each pixel; row y starts at y × Width × 3.</summary>
    public byte[] Pixels { get; }

    public ImageFormat SourceFormat { get; }

    /// <summary>What the decoder did beyond a plain decode (orientation applied, bit depth reduced, first page used, library warnings).</summary>
    public IReadOnlyList<string> Notes { get; }

    public int Stride => Width * 3;

    public Span<byte> GetRow(int y) => Pixels.AsSpan(GetRowOffset(y), Stride);

    public (byte R, byte G, byte B) GetPixel(int x, int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(x);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(x, Width);
        int i = GetRowOffset(y) + x * 3;
        return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
    }

    private int GetRowOffset(int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, Height);
        return y * Stride;
    }
}
