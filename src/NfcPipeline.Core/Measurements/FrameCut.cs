using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;

namespace NfcPipeline.Core.Measurements;

/// <summary>
/// Loops whose apex lies outside the image. Their mask runs into the frame's edge on the nail side, and the model's U
/// and D then sit somewhere on the limbs (the limbs' cut ends look like an apex), so they mark no apex.
/// </summary>
public static class FrameCut
{
    /// <summary>
    /// True when <paramref name="mask"/> has a pixel on the edge of a <paramref name="width"/> × <paramref name="height"/>
    /// image lying more than <paramref name="marginPx"/> beyond <paramref name="up"/> along <paramref name="distalAxis"/>
    /// (a unit vector towards the nail).
    /// </summary>
    public static bool ApexOutside(InstanceMask mask, Point2 up, Point2 distalAxis, int width, int height, double marginPx)
    {
        int right = mask.Left + mask.Width - 1, bottom = mask.Top + mask.Height - 1;
        if (mask.Left > 0 && mask.Top > 0 && right < width - 1 && bottom < height - 1) return false;
        double limit = up.Dot(distalAxis) + marginPx;
        bool Beyond(int x, int y) => mask.Contains(x, y) && new Point2(x, y).Dot(distalAxis) > limit;
        for (int x = Math.Max(mask.Left, 0); x <= Math.Min(right, width - 1); x++)
            if (Beyond(x, 0) || Beyond(x, height - 1)) return true;
        for (int y = Math.Max(mask.Top, 0); y <= Math.Min(bottom, height - 1); y++)
            if (Beyond(0, y) || Beyond(width - 1, y)) return true;
        return false;
    }

    /// <summary>
    /// For a loop without an apex keypoint, whose apex the row finder takes from its mask's most distal pixel: true when
    /// that distal end lies on the frame's edge (an edge pixel within <paramref name="marginPx"/> of the mask's furthest
    /// along <paramref name="distalAxis"/>), so the true apex may lie beyond the image.
    /// </summary>
    public static bool TipOnFrame(InstanceMask mask, Point2 distalAxis, int width, int height, double marginPx)
    {
        int right = mask.Left + mask.Width - 1, bottom = mask.Top + mask.Height - 1;
        if (mask.Left > 0 && mask.Top > 0 && right < width - 1 && bottom < height - 1) return false;
        double tip = double.NegativeInfinity, edgeTip = double.NegativeInfinity;
        var bits = mask.Bits;
        for (int y = 0; y < mask.Height; y++)
            for (int x = 0; x < mask.Width; x++)
            {
                if (!bits[y * mask.Width + x]) continue;
                int ix = mask.Left + x, iy = mask.Top + y;
                double along = new Point2(ix, iy).Dot(distalAxis);
                tip = Math.Max(tip, along);
                if (ix == 0 || iy == 0 || ix == width - 1 || iy == height - 1) edgeTip = Math.Max(edgeTip, along);
            }
        return !double.IsNegativeInfinity(edgeTip) && edgeTip >= tip - marginPx;   // an empty mask has no tip
    }
}
