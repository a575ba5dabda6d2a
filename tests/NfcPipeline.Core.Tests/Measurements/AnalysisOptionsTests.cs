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
    public void A_model_with_an_unmapped_class_is_refused_at_configuration()
    {
        var error = Assert.Throws<UnknownClassNameException>(() => AnalysisOptions.Default.ValidateFor(["hairpin", "giant"]));
        Assert.Equal(["giant"], error.UnknownNames);
        AnalysisOptions.Default.ValidateFor(["normal", "abnormal", "hemo", "blur"]);
    }
}
