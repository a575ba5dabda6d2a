using NfcPipeline.Imaging;
using NfcPipeline.Inference.Contract;

namespace NfcPipeline.Inference.Preprocessing;

/// <summary>A preprocessed image: the model input tensor and the plan that maps its coordinates back.</summary>
public sealed record PreprocessedImage(TensorBuffer Tensor, ResizePlan Plan) : IDisposable
{
    public void Dispose() => Tensor.Dispose();
}

/// <summary>
/// Interleaved 8-bit RGB → normalised CHW float32, resized (bilinear, half-pixel centres as OpenCV's INTER_LINEAR)
/// and zero-padded right and bottom, in one pass into a pooled buffer.
/// </summary>
/// <param name="maxInputPixels">The largest model input (padded width × height) to allocate; larger is a TooLarge failure.</param>
public sealed class ImagePreprocessor(SizePolicy sizePolicy, InputNormalization normalization, long maxInputPixels = long.MaxValue)
{
    public PreprocessedImage Run(ReadOnlySpan<byte> rgb, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        // In long: 37838² × 3 wraps an int to a small count a short buffer passes.
        long expected = (long)width * height * 3;
        if (rgb.Length < expected)
            throw new ArgumentException($"Expected {expected} RGB bytes for {width}×{height}, got {rgb.Length}.", nameof(rgb));
        var plan = sizePolicy.Plan(width, height);
        // Before the tensor is allocated: at its own size a 48-megapixel image is a 576 MB input and gigabytes of
        // activations; a thin image with a short-side policy grows without bound.
        long inputPixels = (long)plan.PaddedWidth * plan.PaddedHeight;
        if (inputPixels > maxInputPixels)
            throw new ImageDecodeException(ImageDecodeError.TooLarge,
                $"this {width}×{height} image would be a {plan.PaddedWidth}×{plan.PaddedHeight} model input ({inputPixels} pixels), " +
                $"above Inference:MaxInputPixels ({maxInputPixels})");
        var tensor = new TensorBuffer(3, plan.PaddedHeight, plan.PaddedWidth);
        try
        {
            Fill(rgb, plan, tensor.Span);
            return new PreprocessedImage(tensor, plan);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    private void Fill(ReadOnlySpan<byte> rgb, ResizePlan plan, Span<float> chw)
    {
        chw.Clear(); // zero padding
        int pw = plan.PaddedWidth, plane = plan.PaddedHeight * pw;
        // Source channel for each output channel, and the affine a·v + b that normalises a byte value v.
        Span<int> source = stackalloc int[3];
        Span<float> a = stackalloc float[3];
        Span<float> b = stackalloc float[3];
        for (int c = 0; c < 3; c++)
        {
            source[c] = normalization.ColorOrder == ColorOrder.Rgb ? c : 2 - c;
            a[c] = normalization.Scale / normalization.Std[c];
            b[c] = -normalization.Mean[c] / normalization.Std[c];
        }

        if (plan.IsIdentityResize)
        {
            for (int y = 0; y < plan.OriginalHeight; y++)
            {
                var row = rgb.Slice(y * plan.OriginalWidth * 3, plan.OriginalWidth * 3);
                for (int c = 0; c < 3; c++)
                {
                    var dst = chw.Slice(c * plane + y * pw, plan.OriginalWidth);
                    int s = source[c]; float ac = a[c], bc = b[c];
                    for (int x = 0; x < dst.Length; x++) dst[x] = row[x * 3 + s] * ac + bc;
                }
            }
            return;
        }

        var (x0, x1, wx) = Taps(plan.ResizedWidth, plan.OriginalWidth);
        var (y0, y1, wy) = Taps(plan.ResizedHeight, plan.OriginalHeight);
        int stride = plan.OriginalWidth * 3;
        for (int y = 0; y < plan.ResizedHeight; y++)
        {
            var top = rgb.Slice(y0[y] * stride, stride);
            var bottom = rgb.Slice(y1[y] * stride, stride);
            float fy = wy[y];
            for (int c = 0; c < 3; c++)
            {
                var dst = chw.Slice(c * plane + y * pw, plan.ResizedWidth);
                int s = source[c]; float ac = a[c], bc = b[c];
                for (int x = 0; x < dst.Length; x++)
                {
                    int i0 = x0[x] * 3 + s, i1 = x1[x] * 3 + s;
                    float fx = wx[x];
                    float t = top[i0] + (top[i1] - top[i0]) * fx;
                    float u = bottom[i0] + (bottom[i1] - bottom[i0]) * fx;
                    dst[x] = (t + (u - t) * fy) * ac + bc;
                }
            }
        }
    }

    /// <summary>For each destination index: the two source indices and the weight of the second (half-pixel centres).</summary>
    private static (int[] Lo, int[] Hi, float[] Weight) Taps(int destination, int sourceLength)
    {
        var lo = new int[destination]; var hi = new int[destination]; var weight = new float[destination];
        double scale = (double)sourceLength / destination;
        for (int i = 0; i < destination; i++)
        {
            double src = Math.Clamp((i + 0.5) * scale - 0.5, 0, sourceLength - 1);
            int l = (int)Math.Floor(src);
            lo[i] = l; hi[i] = Math.Min(l + 1, sourceLength - 1); weight[i] = (float)(src - l);
        }
        return (lo, hi, weight);
    }
}
