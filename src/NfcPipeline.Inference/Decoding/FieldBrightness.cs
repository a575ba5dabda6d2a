using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Decoding;

/// <summary>
/// How the field's brightness changes across it: block means of the model input (channel mean of the normalised
/// values, padding left out), positioned in original pixels. The nail plate and the cuticle are the brightest part of
/// a nailfold field and lie beyond the apices, so the brighter end of the loops' axis is the nail's. The decoder asks
/// this only when the loops themselves do not say which way they point (<see cref="KeypointOrientation"/>); the block
/// means are computed on first use.
/// </summary>
public sealed class FieldBrightness
{
    /// <summary>Block size in model input pixels.</summary>
    public const int Block = 16;

    private readonly ReadOnlyMemory<float> _input;
    private readonly ResizePlan _plan;
    private (double[] X, double[] Y, double[] Value)? _blocks;

    /// <param name="input">One image's [3, PaddedHeight, PaddedWidth] model input.</param>
    public FieldBrightness(ReadOnlyMemory<float> input, ResizePlan plan)
    {
        if (input.Length < 3 * plan.PaddedHeight * plan.PaddedWidth)
            throw new ArgumentException($"Expected a [3,{plan.PaddedHeight},{plan.PaddedWidth}] input, got {input.Length} values.", nameof(input));
        _input = input;
        _plan = plan;
    }

    /// <summary>
    /// Pearson correlation, over the blocks, between brightness and position along <paramref name="direction"/>
    /// (original pixels): positive when the field brightens that way. 0 when either does not vary.
    /// </summary>
    public double CorrelationAlong((float X, float Y) direction)
    {
        var (xs, ys, values) = _blocks ??= Blocks();
        int n = values.Length;
        double meanP = 0, meanV = 0;
        for (int i = 0; i < n; i++) { meanP += xs[i] * direction.X + ys[i] * direction.Y; meanV += values[i]; }
        meanP /= n; meanV /= n;
        double spp = 0, svv = 0, spv = 0;
        for (int i = 0; i < n; i++)
        {
            double p = xs[i] * direction.X + ys[i] * direction.Y - meanP, v = values[i] - meanV;
            spp += p * p; svv += v * v; spv += p * v;
        }
        return spp > 0 && svv > 0 ? spv / Math.Sqrt(spp * svv) : 0;
    }

    private (double[] X, double[] Y, double[] Value) Blocks()
    {
        int h = _plan.ResizedHeight, w = _plan.ResizedWidth, plane = _plan.PaddedHeight * _plan.PaddedWidth;
        int rows = (h + Block - 1) / Block, cols = (w + Block - 1) / Block;
        var sums = new double[rows * cols];
        var span = _input.Span;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
            {
                var line = span.Slice(c * plane + y * _plan.PaddedWidth, w);
                int rowBase = y / Block * cols;
                for (int x = 0; x < w; x++) sums[rowBase + x / Block] += line[x];
            }
        double[] xs = new double[sums.Length], ys = new double[sums.Length], values = new double[sums.Length];
        for (int by = 0; by < rows; by++)
        {
            int y0 = by * Block, y1 = Math.Min(y0 + Block, h) - 1;
            for (int bx = 0; bx < cols; bx++)
            {
                int x0 = bx * Block, x1 = Math.Min(x0 + Block, w) - 1, i = by * cols + bx;
                values[i] = sums[i] / (3.0 * (x1 - x0 + 1) * (y1 - y0 + 1));
                xs[i] = _plan.ToOriginalX((x0 + x1) / 2.0);
                ys[i] = _plan.ToOriginalY((y0 + y1) / 2.0);
            }
        }
        return (xs, ys, values);
    }
}
