using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Engine;

/// <summary>Builds the [N,3,H,W] input of one run from preprocessed images of one shape bucket.</summary>
internal static class BatchInput
{
    /// <summary>Copies each CHW image into its slot, zero-padding right and bottom up to the bucket size.</summary>
    public static void PadInto(IReadOnlyList<PreprocessedImage> images, Span<float> batch, int height, int width)
    {
        batch.Clear();
        int plane = height * width;
        for (int i = 0; i < images.Count; i++)
        {
            var t = images[i].Tensor;
            if (t.Height > height || t.Width > width)
                throw new InvalidOperationException($"Image tensor {t.Width}×{t.Height} exceeds its bucket {width}×{height}.");
            var source = t.Span;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < t.Height; y++)
                    source.Slice(c * t.Height * t.Width + y * t.Width, t.Width)
                        .CopyTo(batch.Slice(i * 3 * plane + c * plane + y * width, t.Width));
        }
    }
}
