using System.Globalization;

namespace NfcPipeline.Inference.Batching;

/// <summary>
/// The key that decides which requests may share a batch: the padded input height and width in pixels. Requests of
/// different buckets never meet in one batch, so the executor only pads within a bucket and never distorts an image.
/// </summary>
public readonly record struct ShapeBucket(int Height, int Width)
{
    /// <summary>The bucket of an image once both sides are padded up to a multiple of <paramref name="multiple"/>.</summary>
    public static ShapeBucket RoundUp(int height, int width, int multiple)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(multiple);
        return new ShapeBucket(RoundUpTo(height, multiple), RoundUpTo(width, multiple));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Height}x{Width}");

    private static int RoundUpTo(int value, int multiple) => checked((value + multiple - 1) / multiple * multiple);
}
