using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;
using NfcPipeline.Core.Tests.Support;

namespace NfcPipeline.Core.Tests.Measurements;

public class CapillaryMeasurerTests
{
    private static readonly Calibration TwoMicrons = new(2.0);

    // Hand-made loop: apex U(100,50), D(100,58); left limb 80→85, right limb 113→120 at y=90; limb bottoms (83,150), (117,150).
    private static Keypoint[] Golden(float dConfidence = 0.9f) =>
    [
        new(100, 50, 0.9f), new(100, 58, dConfidence),
        new(80, 90, 0.9f), new(85, 90, 0.9f),
        new(113, 90, 0.9f), new(120, 90, 0.9f),
        new(83, 150, 0.9f), new(117, 150, 0.9f),
    ];

    [Fact]
    public void Golden_loop_gives_hand_computed_micrometres()
    {
        var m = new CapillaryMeasurer().Measure(Loops.Instance(Golden()), TwoMicrons);

        Assert.Equal(8, m.ApicalDiameterPx!.Value, 6);
        Assert.Equal(16, m.ApicalDiameterUm!.Value, 6);
        Assert.Equal(10, m.ArterialDiameterUm!.Value, 6);   // narrower limb: 5 px
        Assert.Equal(14, m.VenousDiameterUm!.Value, 6);     // wider limb: 7 px
        Assert.Equal(200, m.LoopHeightUm!.Value, 6);        // (100,150) → (100,50)
        Assert.Equal(80, m.LoopWidthUm!.Value, 6);          // LL x=80 to RR x=120
        double limb = 2 * Math.Sqrt(17 * 17 + 96 * 96);     // apex midpoint (100,54) to (83,150)
        Assert.Equal(limb, m.LeftLimbLengthUm!.Value, 4);
        Assert.Equal(limb, m.RightLimbLengthUm!.Value, 4);
        Assert.Equal(ClinicalCategory.Normal, m.Category);
        Assert.False(m.IsDilated);
        Assert.False(m.IsGiant);
        Assert.Equal(0, m.Axis!.Value.X, 9);
        Assert.Equal(-1, m.Axis!.Value.Y, 9);
    }

    [Theory]
    [InlineData(9.5, false, false)]   // 19 µm
    [InlineData(10, true, false)]     // exactly 20 µm: dilated
    [InlineData(24.5, true, false)]   // 49 µm
    [InlineData(25, false, true)]     // exactly 50 µm: giant
    [InlineData(40, false, true)]
    public void Dilated_and_giant_flags_follow_the_apical_diameter(double apicalPx, bool dilated, bool giant)
    {
        var loop = Loops.Loop(new(200, 200), apical: apicalPx);
        var m = new CapillaryMeasurer().Measure(loop, TwoMicrons);
        Assert.Equal(2 * apicalPx, m.ApicalDiameterUm!.Value, 4);
        Assert.Equal(dilated, m.IsDilated);
        Assert.Equal(giant, m.IsGiant);
    }

    [Theory]
    [InlineData("hairpin", false, true)]
    [InlineData("tortuous", false, true)]    // tortuous is a normal shape
    [InlineData("ramified", true, false)]    // enlarged but not normal-shaped: dilated and abnormal, not giant
    public void Only_a_normal_shaped_loop_is_giant(string className, bool dilated, bool giant)
    {
        var loop = Loops.Loop(new(200, 200), apical: 30, className: className);   // 60 µm
        var m = new CapillaryMeasurer().Measure(loop, TwoMicrons);
        Assert.Equal((dilated, giant), (m.IsDilated, m.IsGiant));

        var anyShape = new CapillaryMeasurer(new MeasurementOptions { GiantRequiresNormalShape = false }).Measure(loop, TwoMicrons);
        Assert.Equal((false, true), (anyShape.IsDilated, anyShape.IsGiant));
    }

    [Fact]
    public void A_wide_apex_over_narrow_limbs_is_not_giant_and_one_whose_limbs_are_unmeasured_has_no_flag()
    {
        // 27 px at 1.953 µm/px is a 52.7 µm apex; limbs of 5 and 6 px (10-12 µm) are not homogeneously enlarged: a U
        // placed at the loop's base, say. One such keypoint made the patient scleroderma.
        var calibration = new Calibration(1.953);
        var thin = new CapillaryMeasurer().Measure(Loops.Loop(new(200, 200), apical: 27, leftLimb: 5, rightLimb: 6), calibration);
        Assert.Equal((true, false), (thin.IsDilated, thin.IsGiant));
        Assert.Equal((false, true), (new CapillaryMeasurer().Measure(Loops.Loop(new(200, 200), apical: 27, leftLimb: 5, rightLimb: 22), calibration).IsGiant,
            new CapillaryMeasurer(new MeasurementOptions { GiantMinLimbDiameterUm = null }).Measure(Loops.Loop(new(200, 200), apical: 27, leftLimb: 5, rightLimb: 6), calibration).IsGiant));

        // Neither limb measured: unknown; one measured wide beside one unmeasured: giant.
        var wide = Loops.Loop(new(200, 200), apical: 27);
        var keypoints = wide.Keypoints.Select((k, i) => i is >= 2 and <= 5 ? k with { Confidence = 0.01f } : k).ToArray();
        var unmeasured = new CapillaryMeasurer().Measure(Loops.Instance(keypoints), calibration);
        Assert.Equal((null, null), (unmeasured.IsDilated, unmeasured.IsGiant));   // giant or dilated: not known which
        keypoints[4] = wide.Keypoints[4];
        keypoints[5] = wide.Keypoints[5];
        Assert.True(new CapillaryMeasurer().Measure(Loops.Instance(keypoints), calibration).IsGiant);
        Assert.Equal(true, new CapillaryMeasurer().Measure(wide, calibration).IsGiant);

        Assert.Contains("GiantMinLimbDiameterUm must be 0 or more and below GiantApicalDiameterUm (50), or null (the apex alone decides), got 50.",
            new MeasurementOptions { GiantMinLimbDiameterUm = 50 }.Validate());
    }

    [Fact]
    public void A_keypoint_scoring_0_is_absent_even_at_a_gate_of_0_and_a_default_calibration_is_refused()
    {
        // COCO's [0, 0, 0] for a keypoint not given: at a gate of 0 it made an apex from (100,50) to the corner, 1 mm wide.
        var keypoints = Golden();
        keypoints[1] = new Keypoint(0, 0, 0);
        var m = new CapillaryMeasurer(new MeasurementOptions { MinKeypointConfidence = 0 }).Measure(Loops.Instance(keypoints), TwoMicrons);
        Assert.Null(m.ApicalDiameterUm);
        Assert.Null(m.IsGiant);
        Assert.Throws<ArgumentException>(() => new CapillaryMeasurer().Measure(Loops.Instance(Golden()), default));
        Assert.Throws<ArgumentException>(() => new DistalRowFinder().Find([], [], default, FieldOfView.Rectangle(640, 480)));
    }

    [Fact]
    public void Thresholds_are_options()
    {
        var options = new MeasurementOptions { DilatedApicalDiameterUm = 15, GiantApicalDiameterUm = 30 };
        var m = new CapillaryMeasurer(options).Measure(Loops.Instance(Golden()), TwoMicrons);
        Assert.True(m.IsDilated);   // 16 µm ≥ 15
    }

    [Fact]
    public void With_DilatedIncludesLimbs_a_limb_of_20_um_or_more_makes_a_loop_dilated_as_EULAR_defines_it()
    {
        var limbs = new CapillaryMeasurer(new MeasurementOptions { DilatedIncludesLimbs = true });
        // Apex 18 µm, venous limb 22 µm: the default looks at the apex only; the option counts the limb.
        var wideLimb = Loops.Loop(new(200, 200), apical: 9, leftLimb: 5, rightLimb: 11);
        Assert.False(new CapillaryMeasurer().Measure(wideLimb, TwoMicrons).IsDilated);
        var m = limbs.Measure(wideLimb, TwoMicrons);
        Assert.Equal((18, 22), (m.ApicalDiameterUm!.Value, m.VenousDiameterUm!.Value));
        Assert.True(m.IsDilated);
        Assert.False(m.IsGiant);   // giants stay the apex's measure
        Assert.False(limbs.Measure(Loops.Loop(new(200, 200), apical: 9, leftLimb: 5, rightLimb: 9.5), TwoMicrons).IsDilated);   // 19 µm

        // An unconfident D: the apex is unknown, so the default cannot tell; a venous limb of 21 µm tells with the option.
        var noApex = Loops.Instance(Golden(dConfidence: 0.05f));
        var wide = new Calibration(3.0);
        Assert.Null(new CapillaryMeasurer().Measure(noApex, wide).IsDilated);
        Assert.True(limbs.Measure(noApex, wide).IsDilated);
        Assert.Null(limbs.Measure(noApex, wide).IsGiant);
        Assert.Null(limbs.Measure(noApex, TwoMicrons).IsDilated);   // venous 14 µm: the unknown apex might still be wide
    }

    [Fact]
    public void With_DilatedIncludesLimbs_a_narrow_apex_beside_an_unknown_limb_is_not_called_undilated()
    {
        var keypoints = Golden();
        keypoints[4] = keypoints[4] with { Confidence = 0.05f };   // the right limb's width is unknown
        var loop = Loops.Instance(keypoints);
        Assert.False(new CapillaryMeasurer().Measure(loop, TwoMicrons).IsDilated);   // the apex (16 µm) decides
        Assert.Null(new CapillaryMeasurer(new MeasurementOptions { DilatedIncludesLimbs = true }).Measure(loop, TwoMicrons).IsDilated);

        // One wide limb decides alone, though the limb roles (by width) need both limbs.
        var wideLeft = Golden();
        wideLeft[3] = wideLeft[3] with { X = 92 };   // the left limb 12 px: 24 µm
        var decided = new CapillaryMeasurer(new MeasurementOptions { DilatedIncludesLimbs = true }).Measure(Loops.Instance(wideLeft.Select((k, i) =>
            i == 4 ? k with { Confidence = 0.05f } : k).ToArray()), TwoMicrons);
        Assert.Null(decided.VenousDiameterUm);
        Assert.True(decided.IsDilated);
    }

    [Fact]
    public void A_loop_of_a_shape_never_giant_is_not_giant_though_its_apex_is_unknown()
    {
        // Unknown (null) said "its apex might make it giant", which no apex can for a ramified loop: counted as unknown giants.
        var ramified = Loops.Instance(Golden(dConfidence: 0.05f), className: "ramified");
        var m = new CapillaryMeasurer().Measure(ramified, TwoMicrons);
        Assert.Null(m.ApicalDiameterUm);
        Assert.False(m.IsGiant);
        Assert.False(new CapillaryMeasurer().WithApexCutByFrame(m, TwoMicrons).IsGiant);
        Assert.Null(new CapillaryMeasurer().WithApexCutByFrame(new CapillaryMeasurer().Measure(Loops.Instance(Golden()), TwoMicrons), TwoMicrons).IsGiant);
        var anyShape = new CapillaryMeasurer(new MeasurementOptions { GiantRequiresNormalShape = false });
        Assert.Null(anyShape.Measure(ramified, TwoMicrons).IsGiant);
        Assert.Null(anyShape.WithApexCutByFrame(anyShape.Measure(ramified, TwoMicrons), TwoMicrons).IsGiant);
    }

    [Fact]
    public void A_measurement_needing_an_unconfident_keypoint_is_null()
    {
        var m = new CapillaryMeasurer().Measure(Loops.Instance(Golden(dConfidence: 0.05f)), TwoMicrons);

        Assert.Null(m.ApicalDiameterUm);
        Assert.Null(m.IsDilated);
        Assert.Null(m.IsGiant);
        Assert.Null(m.LeftLimbLengthUm);       // needs the apex midpoint (U+D)/2
        Assert.Equal(14, m.VenousDiameterUm!.Value, 6);
        Assert.Equal(200, m.LoopHeightUm!.Value, 6);   // U, LB, RB are confident
    }

    [Fact]
    public void A_keypoint_exactly_at_the_confidence_gate_is_used()
    {
        // 0.08f is 0.0799999982 as a double: compared as doubles it fell below the default gate of 0.08.
        var m = new CapillaryMeasurer().Measure(Loops.Instance(Golden(dConfidence: 0.08f)), TwoMicrons);
        Assert.NotNull(m.ApicalDiameterUm);
    }

    [Fact]
    public void Confidence_threshold_is_an_option()
    {
        var m = new CapillaryMeasurer(new MeasurementOptions { MinKeypointConfidence = 0.04 })
            .Measure(Loops.Instance(Golden(dConfidence: 0.05f)), TwoMicrons);
        Assert.Equal(16, m.ApicalDiameterUm!.Value, 6);
    }

    [Fact]
    public void Wider_limb_is_venous_by_default_and_sides_can_be_fixed_instead()
    {
        var keypoints = Golden();
        // Make the left limb the wider one: 80 → 89 (9 px) against the right 7 px.
        keypoints[3] = new Keypoint(89, 90, 0.9f);
        var instance = Loops.Instance(keypoints);

        var wider = new CapillaryMeasurer().Measure(instance, TwoMicrons);
        Assert.Equal(14, wider.ArterialDiameterUm!.Value, 5);
        Assert.Equal(18, wider.VenousDiameterUm!.Value, 5);

        var bySide = new CapillaryMeasurer(new MeasurementOptions { LimbRoles = LimbRoleRule.LeftArterialRightVenous }).Measure(instance, TwoMicrons);
        Assert.Equal(18, bySide.ArterialDiameterUm!.Value, 5);
        Assert.Equal(14, bySide.VenousDiameterUm!.Value, 5);
        Assert.Equal(bySide.LeftLimbLengthUm, bySide.ArterialLimbLengthUm);
    }

    [Fact]
    public void With_one_limb_unconfident_the_wider_rule_cannot_assign_roles()
    {
        var keypoints = Golden();
        keypoints[4] = keypoints[4] with { Confidence = 0.05f };
        var m = new CapillaryMeasurer().Measure(Loops.Instance(keypoints), TwoMicrons);
        Assert.Equal(10, m.LeftLimbDiameterPx!.Value * 2, 5);
        Assert.Null(m.RightLimbDiameterPx);
        Assert.Null(m.ArterialDiameterUm);
        Assert.Null(m.VenousDiameterUm);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(37)]
    [InlineData(90)]
    [InlineData(180)]
    [InlineData(270)]
    public void Measurements_do_not_depend_on_orientation(double degrees)
    {
        var upright = new CapillaryMeasurer().Measure(Loops.Loop(new(500, 400)), TwoMicrons);
        var turned = new CapillaryMeasurer().Measure(Loops.Loop(new(500, 400), degrees), TwoMicrons);
        Assert.Equal(upright.ApicalDiameterUm!.Value, turned.ApicalDiameterUm!.Value, 3);
        Assert.Equal(upright.VenousDiameterUm!.Value, turned.VenousDiameterUm!.Value, 3);
        Assert.Equal(upright.LoopHeightUm!.Value, turned.LoopHeightUm!.Value, 3);
        Assert.Equal(upright.LoopWidthUm!.Value, turned.LoopWidthUm!.Value, 3);
        Assert.Equal(60, upright.LoopWidthUm!.Value, 3);
    }

    [Fact]
    public void Micrometres_scale_linearly_with_the_calibration()
    {
        var loop = Loops.Loop(new(300, 300), apical: 9, leftLimb: 5, rightLimb: 7);
        var at2 = new CapillaryMeasurer().Measure(loop, new Calibration(2.0));
        var at3 = new CapillaryMeasurer().Measure(loop, new Calibration(3.0));
        Assert.Equal(at2.ApicalDiameterUm!.Value * 1.5, at3.ApicalDiameterUm!.Value, 4);
        Assert.Equal(at2.ArterialDiameterUm!.Value * 1.5, at3.ArterialDiameterUm!.Value, 4);
        Assert.Equal(at2.VenousDiameterUm!.Value * 1.5, at3.VenousDiameterUm!.Value, 4);
        Assert.Equal(at2.ApicalDiameterPx, at3.ApicalDiameterPx);
        Assert.False(at2.IsDilated);   // 18 µm
        Assert.True(at3.IsDilated);    // 27 µm
    }

    [Fact]
    public void Hemorrhages_carry_no_dilated_or_giant_flag()
    {
        var m = new CapillaryMeasurer().Measure(Loops.Loop(new(300, 300), apical: 30, className: "hemorrhage"), TwoMicrons);
        Assert.Equal(ClinicalCategory.Hemorrhage, m.Category);
        Assert.False(m.IsLoop);
        Assert.Null(m.IsGiant);
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_reason()
    {
        var error = Assert.Throws<ArgumentException>(() => new CapillaryMeasurer(new MeasurementOptions { GiantApicalDiameterUm = 10 }));
        Assert.Contains("GiantApicalDiameterUm", error.Message);
    }
}
