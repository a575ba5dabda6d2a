using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;
using NfcPipeline.Core.Tests.Support;

namespace NfcPipeline.Core.Tests.Measurements;

public class ImageGradingTests
{
    private static readonly Calibration TwoMicrons = new(2.0);

    private static List<CapillaryInstance> Row(int count, string className = "hairpin", float score = 0.9f) =>
        Enumerable.Range(0, count).Select(i => Loops.Loop(new(100 + 60 * i, 200), className: className, score: score)).ToList();

    [Fact]
    public void Blur_dominating_makes_the_image_ungradable_with_the_reason()
    {
        var loops = Row(5);
        loops.AddRange(Row(5, "blur").Select(l => Loops.Transform(l, 0, default, new(0, 300))));
        var result = new ImageMeasurer().Measure(loops, TwoMicrons, 1024, 768);

        Assert.False(result.Grading.IsGradable);
        Assert.Equal(UngradableReason.BlurDominates, result.Grading.Reason);
        Assert.Contains("5 of 10", result.Grading.Explanation);
        Assert.Equal(ImageQuality.Ungradable, result.Quality);
    }

    [Fact]
    public void The_blur_share_is_printed_apart_from_a_threshold_it_rounds_to()
    {
        var loops = Row(2);
        loops.AddRange(Row(1, "blur").Select(l => Loops.Transform(l, 0, default, new(0, 300))));
        var result = new ImageMeasurer(grading: new GradingOptions { MaxUngradableShare = 0.3333 }).Measure(loops, TwoMicrons, 1024, 768);
        Assert.Contains("share 0.333333 ≥ 0.3333", result.Grading.Explanation);   // was "0.333 ≥ 0.3333"
    }

    [Fact]
    public void A_loop_scored_exactly_at_the_confident_score_counts_as_confident()
    {
        var grading = new GradingOptions { ConfidentInstanceScore = 0.35, MinConfidentInstances = 3 };
        Assert.True(new ImageMeasurer(grading: grading).Measure(Row(3, score: 0.35f), TwoMicrons, 1024, 768).Grading.IsGradable);   // 0.35f < 0.35 as doubles
        Assert.False(new ImageMeasurer(grading: grading).Measure(Row(3, score: 0.3499f), TwoMicrons, 1024, 768).Grading.IsGradable);
    }

    /// <summary>A loop with no confident apex keypoint and an empty mask: nothing places its apex.</summary>
    private static CapillaryInstance Unplaceable() => Loops.Loop(new(700, 200), confidence: 0.05f) with { Mask = new InstanceMask(0, 0, 0, 0, []) };

    [Fact]
    public void A_loop_without_an_apex_to_place_is_no_density_of_0_and_is_named_when_left_out()
    {
        var alone = new ImageMeasurer(grading: new GradingOptions { MinConfidentInstances = 1 }).Measure([Unplaceable()], TwoMicrons, 640, 480);
        Assert.True(alone.Grading.IsGradable);
        Assert.Null(alone.DistalRow.DensityPerMm);   // was 0: an avascular field in the patient's mean
        Assert.Contains(alone.QualityNotes, n => n.Contains("1 loop(s) have no apex to place"));

        var beside = new ImageMeasurer().Measure([.. Row(5), Unplaceable()], TwoMicrons, 1024, 768);
        Assert.Equal(5, beside.DistalRow.Count);
        Assert.NotNull(beside.DistalRow.DensityPerMm);
        Assert.Contains(beside.QualityNotes, n => n.Contains("1 loop(s) have no apex to place"));
    }

    [Fact]
    public void Some_blur_below_the_share_is_gradable_but_limited()
    {
        var loops = Row(6);
        loops.AddRange(Row(3, "blur").Select(l => Loops.Transform(l, 0, default, new(0, 300))));
        var result = new ImageMeasurer().Measure(loops, TwoMicrons, 1024, 768);

        Assert.True(result.Grading.IsGradable);
        Assert.Equal(ImageQuality.Limited, result.Quality);
        Assert.Contains(result.QualityNotes, n => n.Contains("blurred"));
    }

    [Fact]
    public void Too_few_confident_instances_is_ungradable()
    {
        var grading = new GradingOptions { MinConfidentInstances = 3, ConfidentInstanceScore = 0.6 };
        var result = new ImageMeasurer(grading: grading).Measure(Row(4, score: 0.5f), TwoMicrons, 1024, 768);
        Assert.Equal(UngradableReason.TooFewConfidentInstances, result.Grading.Reason);
        Assert.Equal(4, result.DistalCount);   // still measured, only left out of aggregation
    }

    [Fact]
    public void Hemorrhages_are_counted_per_image()
    {
        var loops = Row(8);
        loops.Add(Loops.Loop(new(300, 260), className: "hemorrhage"));
        loops.Add(Loops.Loop(new(600, 260), className: "hemorrhage"));
        var result = new ImageMeasurer().Measure(loops, TwoMicrons, 1024, 768);
        Assert.Equal(2, result.HemorrhageCount);
        Assert.Equal(8, result.DistalCount);
        Assert.Equal(ImageQuality.Good, result.Quality);
    }

    [Fact]
    public void A_field_of_hemorrhages_alone_is_ungradable_not_an_avascular_zero()
    {
        var result = new ImageMeasurer().Measure(Row(2, "hemorrhage"), TwoMicrons, 1024, 768);
        Assert.Equal(UngradableReason.TooFewConfidentInstances, result.Grading.Reason);
        Assert.Contains("0 loop(s)", result.Grading.Explanation);
        Assert.Equal(2, result.HemorrhageCount);

        // Avascular fields counted as 0 on request: then it is gradable, with density 0.
        var avascular = new ImageMeasurer(grading: new GradingOptions { MinConfidentInstances = 0 }).Measure(Row(2, "hemorrhage"), TwoMicrons, 1024, 768);
        Assert.True(avascular.Grading.IsGradable);
        Assert.Equal(0, avascular.DensityPerMm);
    }
}
