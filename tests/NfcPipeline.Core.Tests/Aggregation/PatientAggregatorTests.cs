using NfcPipeline.Core.Aggregation;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Tests.Support;

namespace NfcPipeline.Core.Tests.Aggregation;

public class PatientAggregatorTests
{
    // 1.953125 µm/px makes a 1024 px wide field exactly 2 mm, so a straight row of n loops is n/2 per mm.
    private static readonly Calibration Scale = new(1.953125);
    private static readonly ImageMeasurer Measurer = new();

    private static ImageMeasurement Field(int loops, Func<int, string>? classOf = null, Func<int, double>? apicalOf = null, int hemorrhages = 0, int blurred = 0)
    {
        var instances = Enumerable.Range(0, loops)
            .Select(i => Loops.Loop(new(40 + 48 * i, 200), apical: apicalOf?.Invoke(i) ?? 8, className: classOf?.Invoke(i) ?? "hairpin"))
            .Concat(Enumerable.Range(0, hemorrhages).Select(i => Loops.Loop(new(100 + 200 * i, 330), className: "hemorrhage")))
            .Concat(Enumerable.Range(0, blurred).Select(i => Loops.Loop(new(60 + 100 * i, 450), className: "blur")))
            .ToList();
        return Measurer.Measure(instances, Scale, 1024, 768);
    }

    private static List<FieldResult> PatientFields() =>
    [
        new("p1-R2-1", "R2", Field(16, apicalOf: i => i == 5 ? 27 : 8, hemorrhages: 1)),        // 8/mm, one giant (52.7 µm)
        new("p1-R2-2", "R2", Field(20, classOf: i => i is 3 or 11 ? "ramified" : "hairpin")),   // 10/mm, two abnormal
        new("p1-R3-1", "R3", Field(12, apicalOf: i => i == 0 ? 12 : 8)),                        // 6/mm, one dilated (23.4 µm)
        new("p1-R3-2", "R3", Field(4, apicalOf: i => 40, blurred: 6)),                            // blur dominates: ungradable
        new("p1-L4-1", "L4", null, "Corrupt JPEG."),                                              // missing
    ];

    [Fact]
    public void Densities_come_out_as_designed()
    {
        Assert.Equal(8, Field(16).DensityPerMm!.Value, 9);
        Assert.Equal(10, Field(20).DensityPerMm!.Value, 9);
    }

    [Fact]
    public void Patient_summary_leaves_out_missing_and_ungradable_fields()
    {
        var report = new PatientAggregator().Aggregate("p1", PatientFields());
        var o = report.Overall;

        Assert.Equal(5, o.FieldCount);
        Assert.Equal(1, o.MissingFieldCount);
        Assert.Equal(4, o.AnalysedFieldCount);
        Assert.Equal(3, o.GradableFieldCount);
        Assert.Equal(0.25, o.UngradableShare);
        Assert.Equal(3, o.DensityPerMm.N);
        Assert.Equal(8, o.DensityPerMm.Mean!.Value, 9);
        Assert.Equal(8, o.DensityPerMm.Median!.Value, 9);
        Assert.Equal(2, o.DensityPerMm.Sd!.Value, 9);
        Assert.Equal(48, o.LoopCount);
        Assert.Equal(48, o.DistalCount);
        Assert.Equal(1, o.GiantCount);        // the ungradable field's giants do not count
        Assert.Equal(1, o.DilatedCount);
        Assert.Equal(2, o.AbnormalCount);
        Assert.Equal(1, o.HemorrhageCount);
        Assert.Equal(48, o.ApicalDiameterUm.N);
        Assert.Equal(27 * 1.953125, o.ApicalDiameterUm.Max!.Value, 3);

        Assert.Equal(2, o.ExcludedFields.Count);
        Assert.Contains(o.ExcludedFields, f => f.FieldId == "p1-R3-2" && f.Reason == UngradableReason.BlurDominates);
        Assert.Contains(o.ExcludedFields, f => f.FieldId == "p1-L4-1" && f.Reason == null && f.Explanation == "Corrupt JPEG.");
    }

    [Fact]
    public void Morphology_counts_and_percentages_by_category_and_class()
    {
        var m = new PatientAggregator().Aggregate("p1", PatientFields()).Overall.Morphology;
        Assert.Equal(49, m.Total);
        Assert.Equal(46, m.CountOf(ClinicalCategory.Normal));
        Assert.Equal(100.0 * 46 / 49, m.ByCategory.Single(c => c.Name == "Normal").Percent!.Value, 9);
        Assert.Equal(0, m.CountOf(ClinicalCategory.Ungradable));
        Assert.Equal(["hairpin", "hemorrhage", "ramified"], m.ByClassName.Select(c => c.Name));
        Assert.Equal(2, m.ByClassName.Single(c => c.Name == "ramified").Count);
    }

    [Fact]
    public void Finger_summaries_handle_one_gradable_field_and_all_missing()
    {
        var fingers = new PatientAggregator().Aggregate("p1", PatientFields()).Fingers;
        Assert.Equal(["L4", "R2", "R3"], fingers.Select(f => f.Finger));

        var r3 = fingers.Single(f => f.Finger == "R3").Summary;
        Assert.Equal(1, r3.DensityPerMm.N);
        Assert.Null(r3.DensityPerMm.Sd);
        Assert.Equal(0.5, r3.UngradableShare);

        var l4 = fingers.Single(f => f.Finger == "L4").Summary;
        Assert.Equal(0, l4.AnalysedFieldCount);
        Assert.Null(l4.UngradableShare);
        Assert.Null(l4.DensityPerMm.Mean);
        Assert.Equal(0, l4.Morphology.Total);
        Assert.Null(l4.Morphology.ByCategory[0].Percent);
    }

    [Fact]
    public void Loops_whose_apex_is_unmeasured_are_counted_apart_from_giants_and_non_giants()
    {
        // 16 loops on each of two fingers; on R2 three have a D too weak to place, so their apical diameter, and
        // whether they are giant, is unknown.
        ImageMeasurement WeakApices()
        {
            var instances = Enumerable.Range(0, 16).Select(i =>
            {
                var loop = Loops.Loop(new(40 + 48 * i, 200));
                if (i % 5 != 0 || i == 15) return loop;
                var keypoints = loop.Keypoints.ToArray();
                keypoints[1] = keypoints[1] with { Confidence = 0.01f };
                return loop with { Keypoints = keypoints };
            }).ToList();
            return Measurer.Measure(instances, Scale, 1024, 768);
        }
        var report = new PatientAggregator().Aggregate("p1", [new("p1-R2-1", "R2", WeakApices()), new("p1-L2-1", "L2", Field(16))]);

        Assert.Equal(32, report.Overall.LoopCount);
        Assert.Equal(3, report.Overall.GiantUnknownCount);
        Assert.Equal(29, report.Overall.ApicalDiameterUm.N);
        Assert.Equal(3, report.FastTrack.Inputs.GiantUnknownCount);
        Assert.Equal(0.0, report.FastTrack.Inputs.GiantShare);
        Assert.Contains("giant capillaries (known for 29 of 32 loops) = 0 < 1: yes", report.FastTrack.Trace[0].Text);
    }

    [Fact]
    public void Fast_track_reads_the_patient_numbers()
    {
        var fastTrack = new PatientAggregator().Aggregate("p1", PatientFields()).FastTrack;
        Assert.Equal(FastTrackPattern.Scleroderma, fastTrack.Pattern);     // one giant
        Assert.Equal(SclerodermaSubPattern.Early, fastTrack.SubPattern);   // density 8, giants 1/48
        Assert.Equal(8, fastTrack.Inputs.DensityPerMm!.Value, 9);
        Assert.Equal(1, fastTrack.Inputs.GiantCount);
        Assert.Equal(3, fastTrack.Inputs.DensityFieldCount);    // R2 twice and R3 once; R3-2 is ungradable, L4 missing
        Assert.Equal(2, fastTrack.Inputs.DensityFingerCount);
        // The loops that could be giant: the 48 gradable loops but R2-2's two ramified ones.
        Assert.Equal((48, 46), (fastTrack.Inputs.LoopCount, fastTrack.Inputs.GiantCandidateCount));
        // Where any shape may be giant (GiantRequiresNormalShape off), every loop could be.
        Assert.Equal(48, new PatientAggregator(null, giantRequiresNormalShape: false).Aggregate("p1", PatientFields()).FastTrack.Inputs.GiantCandidateCount);
    }

    [Fact]
    public void A_healthy_looking_finger_alone_gives_no_pattern_until_a_second_finger_has_a_density()
    {
        var aggregator = new PatientAggregator();
        List<FieldResult> oneFinger = [new("p3-R2-1", "R2", Field(18)), new("p3-R2-2", "R2", Field(18)), new("p3-R3-1", "R3", Field(3, blurred: 5))];
        var report = aggregator.Aggregate("p3", oneFinger);
        Assert.Equal(9, report.Overall.DensityPerMm.Mean!.Value, 9);
        Assert.Equal((2, 1), (report.FastTrack.Inputs.DensityFieldCount, report.FastTrack.Inputs.DensityFingerCount));
        Assert.Equal(FastTrackPattern.Indeterminate, report.FastTrack.Pattern);

        oneFinger.Add(new("p3-L2-1", "L2", Field(18)));
        Assert.Equal(FastTrackPattern.NonScleroderma, aggregator.Aggregate("p3", oneFinger).FastTrack.Pattern);
    }

    [Fact]
    public void Fields_without_a_finger_count_as_fields_but_not_as_a_finger()
    {
        var aggregator = new PatientAggregator();
        var unnamed = Enumerable.Range(1, 4).Select(i => new FieldResult($"p4-{i}", FieldResult.UnknownFinger, Field(18))).ToList();
        var report = aggregator.Aggregate("p4", unnamed);
        Assert.Equal((4, (int?)null), (report.FastTrack.Inputs.DensityFieldCount, report.FastTrack.Inputs.DensityFingerCount));
        Assert.Equal(FastTrackPattern.NonScleroderma, report.FastTrack.Pattern);

        // One named finger beside them is one finger, not two.
        unnamed.Add(new("p4-R2-1", "R2", Field(18)));
        var mixed = aggregator.Aggregate("p4", unnamed);
        Assert.Equal(1, mixed.FastTrack.Inputs.DensityFingerCount);
        Assert.Equal(FastTrackPattern.Indeterminate, mixed.FastTrack.Pattern);
    }

    [Fact]
    public void A_finger_folder_intake_could_not_read_is_no_finger_of_its_own()
    {
        // "L2 repeat" beside L2 is shown as written but may be the same finger: it counted as a second one.
        var aggregator = new PatientAggregator();
        List<FieldResult> fields = [new("p5-L2-1", "L2", Field(18)), new("p5-L2r-1", "L2 repeat", Field(18))];
        var report = aggregator.Aggregate("p5", fields);
        Assert.Equal(["L2", "L2 repeat"], report.Fingers.Select(f => f.Finger));
        Assert.Equal((2, 1), (report.FastTrack.Inputs.DensityFieldCount, report.FastTrack.Inputs.DensityFingerCount));
        Assert.Equal(FastTrackPattern.Indeterminate, report.FastTrack.Pattern);

        // A study naming its fingers only its own way is read as one whose fingers are not named: the fields alone count.
        List<FieldResult> ownNames = [new("p6-a", "index left", Field(18)), new("p6-b", "middle left", Field(18))];
        Assert.Equal((2, (int?)null), (aggregator.Aggregate("p6", ownNames).FastTrack.Inputs.DensityFieldCount,
            aggregator.Aggregate("p6", ownNames).FastTrack.Inputs.DensityFingerCount));
        Assert.False(FieldResult.IsNamedFinger("l2"));
        Assert.True(FieldResult.IsNamedFinger("R5"));
    }

    [Fact]
    public void Aggregation_is_independent_of_field_order()
    {
        var fields = PatientFields();
        var forward = new PatientAggregator().Aggregate("p1", fields);
        fields.Reverse();
        var backward = new PatientAggregator().Aggregate("p1", fields);
        Assert.Equal(forward.Overall.DensityPerMm, backward.Overall.DensityPerMm);
        Assert.Equal(forward.Overall.ApicalDiameterUm, backward.Overall.ApicalDiameterUm);
        Assert.Equal(forward.Fingers.Select(f => f.Finger), backward.Fingers.Select(f => f.Finger));
        Assert.Equal(forward.FastTrack.Summary, backward.FastTrack.Summary);
    }

    [Fact]
    public void A_field_given_twice_is_refused()
    {
        var fields = PatientFields();
        fields.Add(fields[0]);
        Assert.Throws<ArgumentException>(() => new PatientAggregator().Aggregate("p1", fields));
    }

    [Fact]
    public void A_patient_without_gradable_fields_is_not_classifiable()
    {
        var report = new PatientAggregator().Aggregate("p2", [new("p2-R2-1", "R2", Field(3, blurred: 5)), new("p2-R2-2", "R2", null)]);
        Assert.Equal(0, report.Overall.GradableFieldCount);
        Assert.Equal(1.0, report.Overall.UngradableShare);
        Assert.Equal(FastTrackPattern.Indeterminate, report.FastTrack.Pattern);
    }
}
