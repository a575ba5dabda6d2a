using NfcPipeline.Imaging;

namespace NfcPipeline.Inference.Preprocessing;

/// <summary>How an image of any size becomes a model input size.</summary>
public abstract record SizePolicy
{
    public abstract ResizePlan Plan(int width, int height);
}

/// <summary>
/// Keep the aspect ratio, resize so the shorter side is <see cref="ShortSide"/> (0 keeps the original size), then pad
/// right and bottom to a multiple of <see cref="Multiple"/>.
/// </summary>
public sealed record ShortSideSizePolicy(int ShortSide, int Multiple) : SizePolicy
{
    public override ResizePlan Plan(int width, int height)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), $"Image size {width}×{height} is empty.");
        int rw = width, rh = height;
        if (ShortSide > 0)
        {
            double scale = (double)ShortSide / Math.Min(width, height);
            // A sliver (1 × 3,000,000 px) would be resized beyond int's range; it is too large for any model input.
            double longSide = Math.Round(Math.Max(width, height) * scale);
            if (longSide > MaxResizedSide)
                throw new ImageDecodeException(ImageDecodeError.TooLarge,
                    $"a {width}×{height} image resized to a short side of {ShortSide} px would be {longSide:0} px long, more than any model input");
            rw = Math.Max(1, (int)Math.Round(width * scale));
            rh = Math.Max(1, (int)Math.Round(height * scale));
        }
        return new ResizePlan(width, height, rw, rh, RoundUp(rw, Multiple), RoundUp(rh, Multiple));
    }

    /// <summary>Beyond this many pixels on a side, no resize is made (Inference:MaxInputPixels refuses far less anyway).</summary>
    public const int MaxResizedSide = 1 << 24;

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}

/// <summary>Resize to exactly Width × Height, for exports that need a fixed input; the aspect ratio is not kept.</summary>
public sealed record FixedSizePolicy(int Width, int Height) : SizePolicy
{
    public override ResizePlan Plan(int width, int height)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), $"Image size {width}×{height} is empty.");
        return new ResizePlan(width, height, Width, Height, Width, Height);
    }
}

/// <summary>
/// Original size, resized size and padded (tensor) size of one image, and the exact maps between original and model
/// pixel-index coordinates. Padding is right and bottom only, so the map is a scale about pixel centres.
/// </summary>
public readonly record struct ResizePlan(int OriginalWidth, int OriginalHeight, int ResizedWidth, int ResizedHeight, int PaddedWidth, int PaddedHeight)
{
    public double ScaleX => (double)OriginalWidth / ResizedWidth;
    public double ScaleY => (double)OriginalHeight / ResizedHeight;
    public bool IsIdentityResize => OriginalWidth == ResizedWidth && OriginalHeight == ResizedHeight;

    public double ToOriginalX(double modelX) => (modelX + 0.5) * ScaleX - 0.5;
    public double ToOriginalY(double modelY) => (modelY + 0.5) * ScaleY - 0.5;
    public double ToModelX(double originalX) => (originalX + 0.5) / ScaleX - 0.5;
    public double ToModelY(double originalY) => (originalY + 0.5) / ScaleY - 0.5;

    /// <summary>
    /// Whether an original-pixel position lies on the picture (pixel edges at −0.5 and size − 0.5), with a hair of
    /// slack for rounding at the edge: a keypoint off it (in the padding) is no place measured.
    /// </summary>
    public bool IsOnPicture(double x, double y)
    {
        const double slack = 1e-4;
        return x >= -0.5 - slack && y >= -0.5 - slack && x <= OriginalWidth - 0.5 + slack && y <= OriginalHeight - 0.5 + slack;
    }
}
