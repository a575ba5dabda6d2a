using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Decoding;

/// <summary>Turns instances/v1 mask probabilities into binary masks in original image pixels.</summary>
public static class MaskPaster
{
    /// <summary>
    /// Pastes an h×w RoI mask into its box exactly as torchvision's paste_masks_in_image does, so results match
    /// PyTorch: pad the mask with one zero pixel per side, grow the box by the same fraction about its centre,
    /// truncate it to whole pixels, resize bilinearly (half-pixel centres, as F.interpolate with
    /// align_corners=False) to the box, and keep pixels above <paramref name="threshold"/>. The box is in
    /// continuous original-image coordinates (pixel k spans [k, k+1]); the mask is clipped to the image.
    /// </summary>
    public static InstanceMask PasteRoiMask(ReadOnlySpan<float> roi, int maskHeight, int maskWidth, BoundingBox box,
        int imageWidth, int imageHeight, float threshold)
    {
        int paddedHeight = maskHeight + 2, paddedWidth = maskWidth + 2;
        // torchvision grows the box by (M + 2) / M with M the mask width, for both axes.
        float scale = (float)((double)paddedWidth / maskWidth);
        float halfWidth = (box.X2 - box.X1) * 0.5f * scale, halfHeight = (box.Y2 - box.Y1) * 0.5f * scale;
        float centreX = (box.X2 + box.X1) * 0.5f, centreY = (box.Y2 + box.Y1) * 0.5f;
        int bx0 = Truncate(centreX - halfWidth), bx1 = Truncate(centreX + halfWidth);
        int by0 = Truncate(centreY - halfHeight), by1 = Truncate(centreY + halfHeight);
        int width = Math.Max(bx1 - bx0 + 1, 1), height = Math.Max(by1 - by0 + 1, 1);

        int x0 = Math.Max(bx0, 0), x1 = (int)Math.Min((long)bx0 + width, imageWidth);
        int y0 = Math.Max(by0, 0), y1 = (int)Math.Min((long)by0 + height, imageHeight);
        if (x1 <= x0 || y1 <= y0) return new InstanceMask(Math.Clamp(bx0, 0, imageWidth), Math.Clamp(by0, 0, imageHeight), 0, 0, []);

        // Taps for the pixels inside the image only: a box far larger than the image (an export that does not clip its
        // boxes) costs what the image does, not what the box would.
        var xs = LinearTaps(paddedWidth, width, x0 - bx0, x1 - x0);
        var ys = LinearTaps(paddedHeight, height, y0 - by0, y1 - y0);
        var bits = new bool[(x1 - x0) * (y1 - y0)];
        int i = 0;
        for (int y = y0; y < y1; y++)
        {
            var (yl, yh, wy) = ys[y - y0];
            for (int x = x0; x < x1; x++, i++)
            {
                var (xl, xh, wx) = xs[x - x0];
                float top = (1 - wx) * Padded(roi, maskHeight, maskWidth, yl, xl) + wx * Padded(roi, maskHeight, maskWidth, yl, xh);
                float bottom = (1 - wx) * Padded(roi, maskHeight, maskWidth, yh, xl) + wx * Padded(roi, maskHeight, maskWidth, yh, xh);
                bits[i] = (1 - wy) * top + wy * bottom > threshold;
            }
        }
        return new InstanceMask(x0, y0, x1 - x0, y1 - y0, bits);
    }

    /// <summary>
    /// Maps a full-size mask (model input pixels) to original pixels: every original pixel samples the mask
    /// bilinearly at its model position (ResizePlan.ToModelX/Y), so an unresized image reads the mask exactly.
    /// </summary>
    public static InstanceMask SampleFullMask(ReadOnlySpan<float> plane, int maskHeight, int maskWidth, ResizePlan plan, float threshold)
    {
        int rw = Math.Min(plan.ResizedWidth, maskWidth), rh = Math.Min(plan.ResizedHeight, maskHeight);
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
        for (int y = 0; y < rh; y++)
            for (int x = 0; x < rw; x++)
            {
                if (!(plane[y * maskWidth + x] > threshold)) continue;
                minX = Math.Min(minX, x); maxX = Math.Max(maxX, x); minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
            }
        if (maxX < 0) return new InstanceMask(0, 0, 0, 0, []);

        // One model pixel of margin: bilinear sampling may lift a neighbour of the last foreground pixel above the threshold.
        int x0 = Math.Max(0, (int)Math.Floor(plan.ToOriginalX(minX - 1))), x1 = Math.Min(plan.OriginalWidth, (int)Math.Ceiling(plan.ToOriginalX(maxX + 1)) + 1);
        int y0 = Math.Max(0, (int)Math.Floor(plan.ToOriginalY(minY - 1))), y1 = Math.Min(plan.OriginalHeight, (int)Math.Ceiling(plan.ToOriginalY(maxY + 1)) + 1);
        var bits = new bool[(x1 - x0) * (y1 - y0)];
        int i = 0;
        for (int y = y0; y < y1; y++)
        {
            double my = Math.Clamp(plan.ToModelY(y), 0, rh - 1);
            int yl = (int)my, yh = Math.Min(yl + 1, rh - 1);
            float wy = (float)(my - yl);
            for (int x = x0; x < x1; x++, i++)
            {
                double mx = Math.Clamp(plan.ToModelX(x), 0, rw - 1);
                int xl = (int)mx, xh = Math.Min(xl + 1, rw - 1);
                float wx = (float)(mx - xl);
                float top = (1 - wx) * plane[yl * maskWidth + xl] + wx * plane[yl * maskWidth + xh];
                float bottom = (1 - wx) * plane[yh * maskWidth + xl] + wx * plane[yh * maskWidth + xh];
                bits[i] = (1 - wy) * top + wy * bottom > threshold;
            }
        }
        return new InstanceMask(x0, y0, x1 - x0, y1 - y0, bits);
    }

    /// <summary>The RoI mask with a one-pixel zero border, read at padded coordinates.</summary>
    private static float Padded(ReadOnlySpan<float> roi, int maskHeight, int maskWidth, int y, int x) =>
        y < 1 || x < 1 || y > maskHeight || x > maskWidth ? 0f : roi[(y - 1) * maskWidth + (x - 1)];

    /// <summary>
    /// PyTorch's bilinear source taps for align_corners=False (scale = in/out, negative sources clamp to 0), for the
    /// destination pixels first to first + count - 1.
    /// </summary>
    private static (int Low, int High, float Weight)[] LinearTaps(int source, int destination, int first, int count)
    {
        float scale = (float)source / destination;
        var taps = new (int, int, float)[count];
        for (int k = 0; k < count; k++)
        {
            float s = Math.Clamp(scale * (first + k + 0.5f) - 0.5f, 0f, source - 1);
            int low = (int)s;
            taps[k] = (low, low < source - 1 ? low + 1 : low, s - low);
        }
        return taps;
    }

    /// <summary>Truncation toward zero, as torchvision's int(), of a coordinate kept within int's range (a box of 1e12 px).</summary>
    private static int Truncate(float value) => (int)Math.Clamp(value, -(1 << 28), 1 << 28);
}
