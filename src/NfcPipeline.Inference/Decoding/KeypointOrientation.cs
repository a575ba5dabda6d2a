using NfcPipeline.Core.Domain;

namespace NfcPipeline.Inference.Decoding;

/// <summary>
/// Loops in one field all point the same way, apex towards the nail. A loop's own heatmaps sometimes put U and D at
/// its base (its two limb ends look like an apex to the model), which turns its diameter and its place in the distal
/// row upside down. The field's consensus direction (limb bottoms → apex, over all its loops) exposes such a loop;
/// its apex is then searched again in the half of its region that lies towards the nail.
/// </summary>
internal static class KeypointOrientation
{
    private const int Up = 0, LeftBottom = 6, RightBottom = 7;

    /// <summary>
    /// The unit direction (original pixels) most loops point in: the sum of their base → apex directions, kept only
    /// when enough loops agree (the sum's length over their count reaches the coherence threshold). In a field blurred
    /// as a whole the loops' own directions can cancel out (half of them seen upside down) while their axes still
    /// agree; then, with <paramref name="brightness"/>, the axis points to the field's brighter end, the nail's.
    /// </summary>
    public static (float X, float Y)? Consensus(IReadOnlyList<Keypoint[]> keypoints, DenseDecoderOptions options,
        FieldBrightness? brightness = null)
    {
        float sx = 0, sy = 0, ax = 0, ay = 0;
        int count = 0;
        foreach (var k in keypoints)
        {
            if (Direction(k) is not { } d) continue;
            sx += d.X; sy += d.Y; count++;
            ax += d.X * d.X - d.Y * d.Y; ay += 2 * d.X * d.Y;   // the doubled angle: a direction and its opposite add up
        }
        if (count < options.OrientationMinInstances) return null;
        float length = MathF.Sqrt(sx * sx + sy * sy);
        if (length > 0 && length / count >= options.OrientationMinCoherence) return (sx / length, sy / length);
        return brightness is not null && options.OrientByBrightness ? AxisTowardsBrightness(ax, ay, count, brightness, options) : null;
    }

    private static (float X, float Y)? AxisTowardsBrightness(float ax, float ay, int count, FieldBrightness brightness,
        DenseDecoderOptions options)
    {
        float length = MathF.Sqrt(ax * ax + ay * ay);
        if (length == 0 || length / count < options.OrientationMinAxisCoherence) return null;
        float angle = MathF.Atan2(ay, ax) / 2;
        var axis = (X: MathF.Cos(angle), Y: MathF.Sin(angle));
        double r = brightness.CorrelationAlong(axis);
        if (!(Math.Abs(r) >= options.OrientationMinBrightnessCorrelation)) return null;
        return r > 0 ? axis : (-axis.X, -axis.Y);
    }

    /// <summary>Whether a loop's own base → apex direction departs from the consensus by more than the options allow.</summary>
    public static bool Disagrees(Keypoint[] keypoints, (float X, float Y) consensus, DenseDecoderOptions options) =>
        Direction(keypoints) is not { } d || d.X * consensus.X + d.Y * consensus.Y < options.OrientationMinCosine;

    /// <summary>
    /// The consensus in grid cells: original pixels map to the grid by a scale per axis, so the direction changes
    /// with an anisotropic resize.
    /// </summary>
    public static (float X, float Y) InCells((float X, float Y) consensus, double scaleX, double scaleY)
    {
        float x = (float)(consensus.X / scaleX), y = (float)(consensus.Y / scaleY);
        float length = MathF.Sqrt(x * x + y * y);
        return (x / length, y / length);
    }

    /// <summary>Unit vector from the midpoint of LB and RB to U, or null when they coincide.</summary>
    private static (float X, float Y)? Direction(Keypoint[] k)
    {
        if (k.Length <= RightBottom) return null;
        float x = k[Up].X - (k[LeftBottom].X + k[RightBottom].X) / 2, y = k[Up].Y - (k[LeftBottom].Y + k[RightBottom].Y) / 2;
        float length = MathF.Sqrt(x * x + y * y);
        return length > 1e-3f && float.IsFinite(length) ? (x / length, y / length) : null;
    }
}
