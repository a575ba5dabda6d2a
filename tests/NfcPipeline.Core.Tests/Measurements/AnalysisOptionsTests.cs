using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Tests.Measurements;

public class AnalysisOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_documented_values()
    {
        var o = AnalysisOptions.Default;
        Assert.Empty(o.Validate());
        Assert.Equal(0.08, o.Measurement.MinKeypointConfidence);
        Assert.Equal(20, o.Measurement.DilatedApicalDiameterUm);
        Assert.Equal(50, o.Measurement.GiantApicalDiameterUm);
        Assert.Equal(LimbRoleRule.WiderIsVenous, o.Measurement.LimbRoles);
        Assert.Equal(7, o.FastTrack.NonSclerodermaMinDensityPerMm);
        Assert.Equal(3, o.FastTrack.SclerodermaMaxDensityPerMm);
        Assert.Equal(0.5, o.Grading.MaxUngradableShare);
        Assert.Equal(0.5, o.DistalRow.BandFractionOfLoopHeight);
    }

    [Fact]
    public void Every_problem_is_listed_with_its_part()
    {
        var o = new AnalysisOptions
        {
            Measurement = new MeasurementOptions { MinKeypointConfidence = 2 },
            DistalRow = new DistalRowOptions { MinApicesForLineFit = 1 },
            Grading = new GradingOptions { MaxUngradableShare = 0 },
            FastTrack = new FastTrackOptions { LateMaxDensityPerMm = 8 },
        };
        var problems = o.Validate();
        Assert.Equal(4, problems.Count);
        Assert.StartsWith("Measurement: MinKeypointConfidence", problems[0]);
        Assert.StartsWith("FastTrack: LateMaxDensityPerMm", problems[3]);
    }

    [Fact]
    public void A_limited_quality_share_above_the_ungradable_share_is_refused()
    {
        Assert.Empty(new GradingOptions { MaxUngradableShare = 0.3, LimitedUngradableShare = 0.29 }.Validate());
        var problem = Assert.Single(new GradingOptions { MaxUngradableShare = 0.2 }.Validate());
        Assert.StartsWith("LimitedUngradableShare (0.25) must be below MaxUngradableShare (0.2)", problem);
        // Equal: a share that reaches one reaches the other, and the field is ungradable, never limited.
        Assert.Single(new GradingOptions { MaxUngradableShare = 0.3, LimitedUngradableShare = 0.3 }.Validate());
    }

    [Theory]
    [InlineData(double.PositiveInfinity, 3, "NonSclerodermaMinDensityPerMm must be a finite density")]
    [InlineData(7, -1, "SclerodermaMaxDensityPerMm must be a finite density")]
    [InlineData(double.NaN, 3, "NonSclerodermaMinDensityPerMm must be a finite density")]
    public void A_density_threshold_that_would_switch_its_rule_off_is_refused(double nonScleroderma, double scleroderma, string problem)
    {
        var problems = new FastTrackOptions { NonSclerodermaMinDensityPerMm = nonScleroderma, SclerodermaMaxDensityPerMm = scleroderma }.Validate();
        Assert.Contains(problems, p => p.StartsWith(problem, StringComparison.Ordinal));
    }

    [Fact]
    public void An_infinite_giant_threshold_or_frame_margin_is_refused()
    {
        Assert.Contains(new MeasurementOptions { GiantApicalDiameterUm = double.PositiveInfinity }.Validate(),
            p => p.StartsWith("GiantApicalDiameterUm must be a finite number", StringComparison.Ordinal));
        Assert.Contains(new MeasurementOptions { ApexCutByFrameMarginPx = double.PositiveInfinity }.Validate(),
            p => p.StartsWith("ApexCutByFrameMarginPx must be a finite number", StringComparison.Ordinal));
    }

    [Fact]
    public void Infinite_row_settings_an_undefined_limb_rule_and_a_default_calibration_are_refused()
    {
        Assert.Contains(new DistalRowOptions { RowGapFractionOfLoopHeight = double.PositiveInfinity }.Validate(),
            p => p.StartsWith("RowGapFractionOfLoopHeight must be a positive finite number", StringComparison.Ordinal));
        Assert.Contains(new DistalRowOptions { MinRowElongation = double.PositiveInfinity }.Validate(),
            p => p.StartsWith("MinRowElongation must be a finite number", StringComparison.Ordinal));
        Assert.Contains(new DistalRowOptions { MinRowLengthMm = -0.1 }.Validate(), p => p.StartsWith("MinRowLengthMm must be a non-negative finite number", StringComparison.Ordinal));
        Assert.Contains(new MeasurementOptions { LimbRoles = (LimbRoleRule)3 }.Validate(), p => p.StartsWith("LimbRoles must be one of", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => new ImageMeasurer().Measure([], default, 640, 480));
    }

    [Fact]
    public void A_model_with_an_unmapped_class_is_refused_at_configuration()
    {
        var error = Assert.Throws<UnknownClassNameException>(() => AnalysisOptions.Default.ValidateFor(["hairpin", "giant"]));
        Assert.Equal(["giant"], error.UnknownNames);
        AnalysisOptions.Default.ValidateFor(["normal", "abnormal", "hemo", "blur"]);
    }
}
