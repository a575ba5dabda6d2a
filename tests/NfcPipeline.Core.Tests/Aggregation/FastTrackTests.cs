using NfcPipeline.Core.Aggregation;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Tests.Aggregation;

public class FastTrackTests
{
    private static FastTrackResult Classify(double? density, int giants = 0, int abnormal = 0, int hemorrhages = 0, int loops = 40,
        FastTrackOptions? options = null, int densityFields = 8, int? densityFingers = 4, int giantsUnknown = 0, int? candidates = null) =>
        new FastTrackClassifier(options).Classify(new FastTrackInputs(density, loops, giants, abnormal, hemorrhages, densityFields, densityFingers,
            giantsUnknown, candidates));

    [Fact]
    public void The_evidence_for_giants_is_the_apices_of_the_loops_that_could_be_giant_and_one_measured_apex_stages_nothing()
    {
        // 12 ramified loops (never giant, so their flags are known) and 28 hairpins none of whose apex was measured: 12 of
        // 40 flags known passed the share, and rule 3 called the patient non-scleroderma with no normal-shaped apex seen.
        var unseen = Classify(5.0, abnormal: 12, loops: 40, giantsUnknown: 28, candidates: 28);
        Assert.Equal(FastTrackPattern.Indeterminate, unseen.Pattern);
        Assert.Contains("the apex is measured for 0 of 28 loops that could be giant", unseen.Summary);
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(5.0, abnormal: 12, loops: 40, giantsUnknown: 21, candidates: 28).Pattern);
        // Every loop abnormal: none could be giant, so "no giants" is known.
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(5.0, abnormal: 40, loops: 40, candidates: 0).Pattern);

        // One giant among one measured apex (39 unmeasured): scleroderma, but the share 1.0 is no "frequent giants".
        var one = Classify(8.0, giants: 1, loops: 40, giantsUnknown: 39, candidates: 40);
        Assert.Equal((FastTrackPattern.Scleroderma, (SclerodermaSubPattern?)null), (one.Pattern, one.SubPattern));
        Assert.Contains("stage not determined (early needs few giants, and the giant share is not known: the apex is measured for 1 of 40", one.Summary);
        Assert.Contains("giant share of loops whose giant flag is known = 1 not used, the apex is measured for 1 of 40",
            Assert.Single(one.Trace, t => t.Rule.StartsWith("Active")).Text);
        // Hemorrhages or loss still make it active; enough measured apices stage it by the share.
        Assert.Equal(SclerodermaSubPattern.Active, Classify(5.0, giants: 1, loops: 40, giantsUnknown: 39, candidates: 40).SubPattern);
        Assert.Equal(SclerodermaSubPattern.Active, Classify(8.0, giants: 2, loops: 40, giantsUnknown: 20, candidates: 40).SubPattern);
        Assert.Equal(SclerodermaSubPattern.Early, Classify(8.0, giants: 1, loops: 40, giantsUnknown: 20, candidates: 40).SubPattern);
    }

    [Fact]
    public void Loops_with_an_unmeasured_apex_are_named_in_the_giant_conditions_and_left_out_of_the_giant_share()
    {
        // 40 loops, 24 with an unmeasured apex: 0 giants is said to be over 16 loops, not 40.
        var normal = Classify(8.0, loops: 40, giantsUnknown: 24);
        Assert.Equal(FastTrackPattern.NonScleroderma, normal.Pattern);
        Assert.Contains("giant capillaries (known for 16 of 40 loops) = 0 < 1: yes", normal.Trace[0].Text);
        Assert.DoesNotContain("known for", Classify(8.0, loops: 40).Trace[0].Text);

        // 2 giants: 2 of 16 measured apices is 0.125, frequent (active); 2 of all 40 loops would be 0.05 (late).
        var active = Classify(2.0, giants: 2, abnormal: 3, loops: 40, giantsUnknown: 24);
        Assert.Equal(SclerodermaSubPattern.Active, active.SubPattern);
        Assert.Equal(0.125, active.Inputs.GiantShare);
        Assert.Contains("giant share of loops whose giant flag is known = 0.125", Assert.Single(active.Trace, t => t.Rule.StartsWith("Active")).Text);
        Assert.Equal(SclerodermaSubPattern.Late, Classify(2.0, giants: 2, abnormal: 3, loops: 40).SubPattern);

        // No loop with a measured apex: no share, and no giant counted.
        var none = Classify(8.0, loops: 5, giantsUnknown: 5);
        Assert.Null(none.Inputs.GiantShare);
        Assert.Contains("known for 0 of 5 loops", none.Trace[0].Text);

        // Late with no loop's giant flag known: the share is taken as 0, and the trace says so rather than show a 0.
        var late = Classify(2.0, abnormal: 3, loops: 5, giantsUnknown: 5);
        Assert.Equal(SclerodermaSubPattern.Late, late.SubPattern);
        Assert.Contains("giant share of loops whose giant flag is known (known for none; taken as 0) = 0",
            Assert.Single(late.Trace, t => t.Rule.StartsWith("Late")).Text);
    }

    [Fact]
    public void No_giants_is_not_taken_from_loops_whose_apices_were_hardly_measured()
    {
        // 0 of 5 apices measured: "no giants" is no finding, so neither rule 1 nor rule 3 may call the patient normal.
        var unseen = Classify(8.0, loops: 5, giantsUnknown: 5);
        Assert.Equal(FastTrackPattern.Indeterminate, unseen.Pattern);
        Assert.Contains("the apex is measured for 0 of 5 loops, fewer than the share of 0.25 asked for", unseen.Summary);
        Assert.Contains("not used, the apex is measured for 0 of 5 loops", unseen.Trace[0].Text);
        Assert.Equal(FastTrackPattern.Indeterminate, Classify(5.0, loops: 40, giantsUnknown: 31).Pattern);   // rule 3's ground too

        // A quarter measured is enough; a giant seen, or severe loss with abnormal shapes, needs no share at all.
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(8.0, loops: 40, giantsUnknown: 30).Pattern);
        Assert.Equal(FastTrackPattern.Scleroderma, Classify(8.0, giants: 1, loops: 40, giantsUnknown: 39).Pattern);
        Assert.Equal(FastTrackPattern.Scleroderma, Classify(2.0, abnormal: 3, loops: 5, giantsUnknown: 5).Pattern);
        // Off: the giants seen, as before.
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(8.0, loops: 5, giantsUnknown: 5, options: new FastTrackOptions { MinGiantKnownShare = 0 }).Pattern);
        Assert.Contains("MinGiantKnownShare must be in [0, 1], got 2.", new FastTrackOptions { MinGiantKnownShare = 2 }.Validate());
    }

    [Fact]
    public void Exactly_7_per_mm_without_giants_or_abnormal_shapes_is_non_scleroderma()
    {
        var result = Classify(7.0);
        Assert.Equal(FastTrackPattern.NonScleroderma, result.Pattern);
        Assert.Null(result.SubPattern);
        var rule = result.Trace[0];
        Assert.True(rule.Holds);
        Assert.Equal(7.0, rule.Conditions[0].Value);
        Assert.Equal(">=", rule.Conditions[0].Comparison);
        Assert.Equal(7.0, rule.Conditions[0].Threshold);
        Assert.Contains("density per mm = 7 >= 7: yes", rule.Text);
    }

    [Fact]
    public void Just_below_7_per_mm_is_non_scleroderma_by_rule_3_with_non_specific_abnormalities()
    {
        // The published algorithm's rule 3: what neither rule places is category 1, non-scleroderma (it was
        // Indeterminate here, a third outcome the algorithm does not have).
        var result = Classify(6.99);
        Assert.Equal(FastTrackPattern.NonScleroderma, result.Pattern);
        Assert.All(result.Trace.Take(3), entry => Assert.False(entry.Holds));
        var rule3 = Assert.Single(result.Trace, t => t.Rule.StartsWith("Non-scleroderma (rule 3)"));
        Assert.True(rule3.Holds);
        Assert.Equal(4, result.Trace.Count);
        Assert.Contains("rule 3: non-specific abnormalities", result.Summary);
        Assert.Contains("rule 1: normal", Classify(7).Summary);
    }

    [Fact]
    public void A_value_that_rounds_to_its_threshold_is_shown_with_the_digits_that_tell_them_apart()
    {
        Assert.Contains("density per mm = 6.9996 >= 7: no", Classify(6.9996).Trace[0].Text);
        Assert.Contains("density per mm = 6.999999 >= 7: no", Classify(6.999999).Trace[0].Text);
        Assert.Contains("density per mm = 7.5 >= 7: yes", Classify(7.5).Trace[0].Text);
        Assert.Contains("density per mm = 7.123 >= 7: yes", Classify(7.1234).Trace[0].Text);
    }

    [Fact]
    public void One_giant_against_none_decides_scleroderma()
    {
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(9, giants: 0).Pattern);
        var withGiant = Classify(9, giants: 1);
        Assert.Equal(FastTrackPattern.Scleroderma, withGiant.Pattern);
        Assert.True(withGiant.Trace.Single(t => t.Rule.StartsWith("Scleroderma: giant")).Holds);
    }

    [Fact]
    public void One_abnormal_shape_blocks_the_normal_rule_and_leaves_rule_3()
    {
        var result = Classify(9, abnormal: 1);
        Assert.Equal(FastTrackPattern.NonScleroderma, result.Pattern);
        Assert.False(result.Trace[0].Holds);
        Assert.Contains("rule 3", result.Summary);
    }

    [Fact]
    public void Exactly_3_per_mm_with_abnormal_shapes_is_scleroderma_late()
    {
        var result = Classify(3.0, abnormal: 2);
        Assert.Equal(FastTrackPattern.Scleroderma, result.Pattern);
        Assert.Equal(SclerodermaSubPattern.Late, result.SubPattern);
        Assert.Contains(result.Trace, t => t.Rule.StartsWith("Late") && t.Holds);
    }

    [Theory]
    [InlineData(3.01, 2)]   // loss not severe enough
    [InlineData(3.0, 0)]    // no abnormal shapes
    public void Around_3_per_mm_the_second_rule_needs_both_loss_and_shapes(double density, int abnormal)
    {
        var result = Classify(density, abnormal: abnormal);
        Assert.Equal(FastTrackPattern.NonScleroderma, result.Pattern);   // rule 3
        Assert.Contains("rule 3", result.Summary);
    }

    [Fact]
    public void Few_giants_with_preserved_density_is_early()
    {
        var result = Classify(8, giants: 1, hemorrhages: 1, loops: 40);   // giant share 0.025
        Assert.Equal(SclerodermaSubPattern.Early, result.SubPattern);
    }

    [Theory]
    [InlineData(8, 4, 0)]   // giant share 0.10
    [InlineData(8, 1, 4)]   // hemorrhages 0.10 per loop
    [InlineData(5, 1, 0)]   // moderate loss
    public void Frequent_giants_or_hemorrhages_or_moderate_loss_is_active(double density, int giants, int hemorrhages)
    {
        var result = Classify(density, giants: giants, hemorrhages: hemorrhages, loops: 40);
        Assert.Equal(SclerodermaSubPattern.Active, result.SubPattern);
    }

    [Fact]
    public void Severe_loss_with_many_giants_is_active_not_late()
    {
        Assert.Equal(SclerodermaSubPattern.Active, Classify(2.5, giants: 5, abnormal: 3, loops: 20).SubPattern);
    }

    [Fact]
    public void Unknown_density_cannot_be_non_scleroderma_but_giants_still_decide()
    {
        var none = Classify(null);
        Assert.Equal(FastTrackPattern.Indeterminate, none.Pattern);
        Assert.Contains("unknown", none.Trace[0].Conditions[0].Text);
        Assert.Equal(FastTrackPattern.Scleroderma, Classify(null, giants: 2).Pattern);
    }

    [Fact]
    public void Thresholds_are_options()
    {
        var strict = new FastTrackOptions { NonSclerodermaMinDensityPerMm = 8 };
        Assert.Contains("rule 3", Classify(7.5, options: strict).Summary);   // not rule 1's 8/mm
        Assert.Contains("rule 1", Classify(7.5).Summary);
        Assert.Throws<ArgumentException>(() => new FastTrackClassifier(new FastTrackOptions { SclerodermaMaxDensityPerMm = 9 }));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    public void A_density_from_too_few_fields_or_fingers_calls_no_patient_normal(int fields, int fingers)
    {
        var result = Classify(9, densityFields: fields, densityFingers: fingers);
        Assert.Equal(FastTrackPattern.Indeterminate, result.Pattern);
        var density = result.Trace[0].Conditions[0];
        Assert.False(density.Holds);
        Assert.Equal(9, density.Value);
        Assert.Contains($"density per mm = 9 not used, it comes from {fields} field", density.Text);
        Assert.Contains("fewer than the 2 fields on 2 fingers asked for; cannot check >= 7: no", density.Text);
        Assert.Contains("no giants, and the density is not used", result.Summary);
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(9, densityFields: 2, densityFingers: 2).Pattern);
    }

    [Fact]
    public void Nor_severe_loss_from_one_field_but_giants_still_decide_and_staging_leaves_the_density_out()
    {
        Assert.Equal(FastTrackPattern.Scleroderma, Classify(2, abnormal: 5, densityFields: 2, densityFingers: 2).Pattern);
        Assert.Equal(FastTrackPattern.Indeterminate, Classify(2, abnormal: 5, densityFields: 1, densityFingers: 1).Pattern);

        var giants = Classify(2, giants: 1, abnormal: 5, densityFields: 1, densityFingers: 1);
        Assert.Equal(FastTrackPattern.Scleroderma, giants.Pattern);
        // Late and the active rule's loss need the density, and so does early's preserved one: the stage is open.
        Assert.Null(giants.SubPattern);
        Assert.Contains("stage not determined", giants.Summary);
        Assert.Contains("the density is not used, it comes from 1 field on 1 finger", giants.Summary);
        Assert.Equal(SclerodermaSubPattern.Active, Classify(2, giants: 4, abnormal: 5, loops: 40, densityFields: 1, densityFingers: 1).SubPattern);
        Assert.Null(Classify(null, giants: 1).SubPattern);   // no gradable density at all
        Assert.Equal(SclerodermaSubPattern.Late, Classify(2, giants: 1, abnormal: 5).SubPattern);
    }

    [Fact]
    public void The_minimum_fields_and_fingers_are_options()
    {
        var single = new FastTrackOptions { MinDensityFields = 1, MinDensityFingers = 1 };
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(9, densityFields: 1, densityFingers: 1, options: single).Pattern);
        var eightFingers = new FastTrackOptions { MinDensityFields = 16, MinDensityFingers = 8 };
        Assert.Equal(FastTrackPattern.Indeterminate, Classify(9, densityFields: 16, densityFingers: 7, options: eightFingers).Pattern);
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(9, densityFields: 16, densityFingers: 8, options: eightFingers).Pattern);

        Assert.Contains("MinDensityFields must be at least 1",
            Assert.Throws<ArgumentException>(() => new FastTrackClassifier(new FastTrackOptions { MinDensityFields = 0 })).Message);
        Assert.Contains("cannot exceed MinDensityFields",
            Assert.Throws<ArgumentException>(() => new FastTrackClassifier(new FastTrackOptions { MinDensityFingers = 3 })).Message);
    }

    [Fact]
    public void Fingers_the_study_does_not_name_are_not_counted_and_only_the_fields_are_checked()
    {
        Assert.Equal(FastTrackPattern.NonScleroderma, Classify(9, densityFields: 16, densityFingers: null).Pattern);
        var one = Classify(9, densityFields: 1, densityFingers: null);
        Assert.Equal(FastTrackPattern.Indeterminate, one.Pattern);
        Assert.Contains("it comes from 1 field whose fingers are not named, fewer than", one.Trace[0].Conditions[0].Text);
    }
}
