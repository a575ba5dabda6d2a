using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Measurements;

/// <summary>Measures single capillaries from their 8 ANFC keypoints (U, D, LL, LR, RL, RR, LB, RB).</summary>
public sealed class CapillaryMeasurer
{
    private readonly MeasurementOptions _options;

    public CapillaryMeasurer(MeasurementOptions? options = null)
    {
        _options = options ?? MeasurementOptions.Default;
        var problems = _options.Validate();
        if (problems.Count > 0) throw new ArgumentException("Invalid measurement options: " + string.Join(" ", problems), nameof(options));
    }

    public MeasurementOptions Options => _options;

    public CapillaryMeasurement Measure(CapillaryInstance instance, Calibration calibration, int index = 0)
    {
        Calibration.ThrowIfUnscaled(calibration, nameof(calibration));
        if (instance.Keypoints.Length != KeypointNames.Count)
            throw new ArgumentException($"A capillary needs exactly {KeypointNames.Count} keypoints, got {instance.Keypoints.Length}.", nameof(instance));

        string className = instance.ClassName;
        ClinicalCategory category = _options.Categories.Get(className);
        Point2? P(KeypointName name)
        {
            Keypoint k = instance[name];
            return LoopDiameters.Usable(k, _options.MinKeypointConfidence) ? new Point2(k.X, k.Y) : null;
        }
        Point2? u = P(KeypointName.Up), d = P(KeypointName.Down);
        Point2? ll = P(KeypointName.LeftLeft), lr = P(KeypointName.LeftRight);
        Point2? rl = P(KeypointName.RightLeft), rr = P(KeypointName.RightRight);
        Point2? lb = P(KeypointName.LeftBottom), rb = P(KeypointName.RightBottom);

        double? apical = Dist(u, d);
        double? left = Dist(ll, lr), right = Dist(rl, rr);
        var (arterial, venous, arterialIsLeft) = LoopDiameters.AssignLimbs(left, right, _options.LimbRoles);

        Point2? apexMid = u is { } uu && d is { } dd ? Point2.Midpoint(uu, dd) : null;
        double? leftLength = Dist(apexMid, lb), rightLength = Dist(apexMid, rb);
        double? arterialLength = arterialIsLeft switch { true => leftLength, false => rightLength, null => null };
        double? venousLength = arterialIsLeft switch { true => rightLength, false => leftLength, null => null };

        Point2? axis = null;
        double? height = null, width = null;
        if (u is { } up && lb is { } lbot && rb is { } rbot)
        {
            Point2 baseMid = Point2.Midpoint(lbot, rbot);
            Point2 along = up - baseMid;
            if (along.Length > 0)
            {
                axis = along.Normalized();
                height = along.Length;
                if (ll is { } outerLeft && rr is { } outerRight)
                    width = Math.Abs((outerRight - outerLeft).Dot(axis.Value.Perpendicular));
            }
        }

        double? apicalUm = ToUm(apical, calibration), arterialUm = ToUm(arterial, calibration), venousUm = ToUm(venous, calibration);
        bool isLoop = category.IsLoop();
        bool? giant = Giant(category, apicalUm, ToUm(left, calibration), ToUm(right, calibration));
        return new CapillaryMeasurement
        {
            Index = index,
            ClassName = className,
            Category = category,
            Score = instance.Score,
            ApicalDiameterPx = apical,
            ApicalDiameterUm = apicalUm,
            LeftLimbDiameterPx = left,
            RightLimbDiameterPx = right,
            ArterialDiameterPx = arterial,
            ArterialDiameterUm = arterialUm,
            VenousDiameterPx = venous,
            VenousDiameterUm = venousUm,
            LeftLimbLengthUm = ToUm(leftLength, calibration),
            RightLimbLengthUm = ToUm(rightLength, calibration),
            ArterialLimbLengthUm = ToUm(arterialLength, calibration),
            VenousLimbLengthUm = ToUm(venousLength, calibration),
            LoopHeightPx = height,
            LoopHeightUm = ToUm(height, calibration),
            LoopWidthPx = width,
            LoopWidthUm = ToUm(width, calibration),
            Apex = u,
            Axis = axis,
            IsDilated = isLoop ? Dilated(apicalUm, ToUm(left, calibration), ToUm(right, calibration), giant) : null,
            IsGiant = giant,
        };
    }

    /// <summary>
    /// A loop is dilated from the threshold on (its apex, and its limbs with DilatedIncludesLimbs) unless it is giant;
    /// unknown when nothing reaches it and a diameter that might (the apex, or with DilatedIncludesLimbs a limb) is unknown.
    /// The limbs are taken left and right, which need no limb roles: by width the roles need both limbs, and one wide
    /// limb beside an unknown one would tell nothing.
    /// </summary>
    private bool? Dilated(double? apicalUm, double? leftLimbUm, double? rightLimbUm, bool? giant)
    {
        double threshold = _options.DilatedApicalDiameterUm;
        bool wide = apicalUm >= threshold || _options.DilatedIncludesLimbs && (leftLimbUm >= threshold || rightLimbUm >= threshold);
        // An apex of the giant width whose giant flag is unknown (no limb measured) is giant or dilated: unknown.
        if (wide) return giant switch { true => false, null when apicalUm >= _options.GiantApicalDiameterUm => null, _ => true };
        bool unknown = apicalUm is null || _options.DilatedIncludesLimbs && (leftLimbUm is null || rightLimbUm is null);
        return unknown ? null : false;
    }

    /// <summary>
    /// The same capillary with what its apex gives left out: the apex lies outside the image. Its limbs still show,
    /// so with DilatedIncludesLimbs a wide limb still calls it dilated.
    /// </summary>
    public CapillaryMeasurement WithApexCutByFrame(CapillaryMeasurement m, Calibration calibration) => m with
    {
        IsDilated = m.Category.IsLoop() ? Dilated(null, ToUm(m.LeftLimbDiameterPx, calibration), ToUm(m.RightLimbDiameterPx, calibration), null) : null,
        ApexCutByFrame = true,
        ApicalDiameterPx = null, ApicalDiameterUm = null,
        LeftLimbLengthUm = null, RightLimbLengthUm = null, ArterialLimbLengthUm = null, VenousLimbLengthUm = null,
        LoopHeightPx = null, LoopHeightUm = null,
        LoopWidthPx = null, LoopWidthUm = null,   // measured across the axis from U, which sits on a limb's cut end
        Apex = null, Axis = null,
        IsGiant = m.Category.IsLoop() && !CanBeGiant(m.Category) ? false : null,
    };

    /// <summary>
    /// A loop of a shape that is never giant is not giant, whatever its apex; nor is one whose apex reaches the threshold
    /// while a measured limb is narrow (not homogeneously enlarged). Unknown (null) only where a width could decide.
    /// </summary>
    private bool? Giant(ClinicalCategory category, double? apicalUm, double? leftLimbUm, double? rightLimbUm)
    {
        if (!category.IsLoop()) return null;
        if (!CanBeGiant(category)) return false;
        if (apicalUm is not { } apical) return null;
        if (apical < _options.GiantApicalDiameterUm) return false;
        if (_options.GiantMinLimbDiameterUm is not { } limb) return true;
        if (leftLimbUm < limb || rightLimbUm < limb) return false;
        return leftLimbUm is null && rightLimbUm is null ? null : true;
    }

    private bool CanBeGiant(ClinicalCategory category) => category == ClinicalCategory.Normal || !_options.GiantRequiresNormalShape;

    private static double? Dist(Point2? a, Point2? b) => a is { } p && b is { } q ? Point2.Distance(p, q) : null;

    private static double? ToUm(double? px, Calibration calibration) => px is { } v ? calibration.ToMicrometres(v) : null;
}
