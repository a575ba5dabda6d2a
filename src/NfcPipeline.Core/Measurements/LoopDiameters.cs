using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Measurements;

/// <summary>Apical, arterial and venous diameters in pixels from keypoints alone; shared by measurement and evaluation.</summary>
public readonly record struct LoopDiameters(double? ApicalPx, double? LeftLimbPx, double? RightLimbPx, double? ArterialPx, double? VenousPx, bool? ArterialIsLeft)
{
    public static LoopDiameters FromKeypoints(IReadOnlyList<Keypoint> keypoints, double minConfidence, LimbRoleRule rule)
    {
        if (keypoints.Count != KeypointNames.Count)
            throw new ArgumentException($"Expected {KeypointNames.Count} keypoints, got {keypoints.Count}.", nameof(keypoints));
        double? Between(KeypointName a, KeypointName b)
        {
            Keypoint p = keypoints[(int)a], q = keypoints[(int)b];
            return Usable(p, minConfidence) && Usable(q, minConfidence) ? Keypoint.Distance(p, q) : null;
        }
        double? left = Between(KeypointName.LeftLeft, KeypointName.LeftRight);
        double? right = Between(KeypointName.RightLeft, KeypointName.RightRight);
        var (arterial, venous, arterialIsLeft) = AssignLimbs(left, right, rule);
        return new LoopDiameters(Between(KeypointName.Up, KeypointName.Down), left, right, arterial, venous, arterialIsLeft);
    }

    /// <summary>Arterial and venous diameters, and whether the arterial limb is the left one (null: unknown).</summary>
    public static (double? Arterial, double? Venous, bool? ArterialIsLeft) AssignLimbs(double? left, double? right, LimbRoleRule rule) => rule switch
    {
        LimbRoleRule.LeftArterialRightVenous => (left, right, true),
        LimbRoleRule.LeftVenousRightArterial => (right, left, false),
        // Equal widths cannot say which limb is which; the left one is called arterial, the diameters are equal anyway.
        _ => left is { } l && right is { } r ? (Math.Min(l, r), Math.Max(l, r), l <= r) : (null, null, null),
    };

    /// <summary>Confident enough, and present whatever the gate: a keypoint scoring 0 is one not given (COCO's [0, 0, 0]).</summary>
    public static bool Usable(Keypoint k, double minConfidence) =>
        k.Confidence > 0 && k.Confidence >= (float)minConfidence && float.IsFinite(k.X) && float.IsFinite(k.Y);   // 0.08f passes a gate of 0.08
}
