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
    /// when enough loops agree (the sum's length over their count reaches the coherence threshold).
    /// </summary>
    public static (float X, float Y)? Consensus(IReadOnlyList<Keypoint[]> keypoints, DenseDecoderOptions options)
    {
        float sx = 0, sy = 0;
        int count = 0;
        foreach (var k in keypoints)
            if (Direction(k) is { } d) { sx += d.X; sy += d.Y; count++; }
        if (count < options.OrientationMinInstances) return null;
        float length = MathF.Sqrt(sx * sx + sy * sy);
        return length / count >= options.OrientationMinCoherence ? (sx / length, sy / length) : null;
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
