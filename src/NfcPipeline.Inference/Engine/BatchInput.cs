using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Engine;

/// <summary>Builds the [N,3,H,W] input of one run from preprocessed images of one shape bucket.</summary>
internal static class BatchInput
{
    /// <summary>
    /// True when the images' own buffer can be the input as it is: one image whose tensor is exactly the bucket
    /// size. Copying a 1024×768 image costs about 2 ms, which the model would otherwise wait for.
    /// </summary>
    public static bool CanUseDirectly(IReadOnlyList<PreprocessedImage> images, int height, int width) =>
        images.Count == 1 && images[0].Tensor.Height == height && images[0].Tensor.Width == width;

    /// <summary>Copies each CHW image into its slot, zero-padding right and bottom up to the bucket size.</summary>
    public static void PadInto(IReadOnlyList<PreprocessedImage> images, Span<float> batch, int height, int width)
    {
        int plane = height * width;
        for (int i = 0; i < images.Count; i++)
        {
            var t = images[i].Tensor;
            if (t.Height > height || t.Width > width)
                throw new InvalidOperationException($"Image tensor {t.Width}×{t.Height} exceeds its bucket {width}×{height}.");
            var slot = batch.Slice(i * 3 * plane, 3 * plane);
            var source = t.Span;
            if (t.Height == height && t.Width == width)
            {
                source.CopyTo(slot);   // the common case: one contiguous copy, nothing to pad
                continue;
            }
            slot.Clear();
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < t.Height; y++)
                    source.Slice(c * t.Height * t.Width + y * t.Width, t.Width)
                        .CopyTo(slot.Slice(c * plane + y * width, t.Width));
        }
    }
}
