using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;
using NfcPipeline.Core.Tests.Support;

namespace NfcPipeline.Core.Tests.Measurements;

public class FrameCutTests
{
    private const int Width = 640, Height = 480;
    private static readonly Point2 Up = new(0, -1);

    private static InstanceMask Rectangle(int left, int top, int width, int height) =>
        new(left, top, width, height, Enumerable.Repeat(true, width * height).ToArray());

    /// <summary>
    /// Six loops in a row, apices at y = 200 pointing up, and a seventh whose apex lies above the frame: its limbs run
    /// out of the top edge, and the model put its U and D 30 px inside, as the reference model does with such loops.
    /// </summary>
    private static List<CapillaryInstance> RowWithACutLoop()
    {
        var loops = Enumerable.Range(0, 6).Select(i => Loops.Loop(new(60 + 70 * i, 200), apical: 8)).ToList();
        var cut = Loops.Loop(new(520, 30), apical: 30);   // 30 px at 2 µm/px: a 60 µm "giant", were it believed
        loops.Add(cut with { Mask = Rectangle(505, 0, 30, 120), Box = Rectangle(505, 0, 30, 120).TightBox() });
        return loops;
    }

    [Fact]
    public void A_loop_running_out_of_the_frame_beyond_its_U_loses_its_apex_measurements_and_its_place_in_the_row()
    {
        var result = new ImageMeasurer().Measure(RowWithACutLoop(), new Calibration(2.0), Width, Height);

        var cut = result.Capillaries[6];
        Assert.True(cut.ApexCutByFrame);
        Assert.Null(cut.ApicalDiameterUm);
        Assert.Null(cut.IsGiant);
        Assert.Null(cut.LoopHeightUm);
        Assert.Null(cut.Apex);
        Assert.Null(cut.LoopWidthUm);             // measured across an axis from the misplaced U
        Assert.NotNull(cut.ArterialDiameterUm);   // its limbs are in the frame
        Assert.Equal(Enumerable.Range(0, 6), result.DistalRow.Indices);
        Assert.All(result.Capillaries.Take(6), c => Assert.False(c.ApexCutByFrame));
        Assert.All(result.Capillaries.Take(6), c => Assert.Equal(16, c.ApicalDiameterUm!.Value, 5));
    }

    [Fact]
    public void Loops_running_out_of_the_frame_without_a_confident_U_leave_the_row_too()
    {
        // Without U the finder's apex is the mask's most distal pixel, here on the top edge: two such loops would be the
        // row's most distal members, tilt its line and raise its density.
        var loops = Enumerable.Range(0, 6).Select(i => Loops.Loop(new(60 + 70 * i, 200), apical: 8)).ToList();
        foreach (int left in new[] { 505, 575 })
        {
            var faint = Loops.Loop(new(left + 15, 30), apical: 30);
            var keypoints = faint.Keypoints.Select((k, i) => i == 0 ? k with { Confidence = 0.05f } : k).ToArray();
            loops.Add(faint with { Keypoints = keypoints, Mask = Rectangle(left, 0, 30, 120), Box = Rectangle(left, 0, 30, 120).TightBox() });
        }

        var result = new ImageMeasurer().Measure(loops, new Calibration(2.0), Width, Height);

        Assert.Null(result.Capillaries[6].Apex);   // the U is not confident: no apex keypoint
        Assert.True(result.Capillaries[6].ApexCutByFrame);
        Assert.True(result.Capillaries[7].ApexCutByFrame);
        Assert.Equal(Enumerable.Range(0, 6), result.DistalRow.Indices);
        Assert.Equal(6 / 1.28, result.DensityPerMm!.Value, 6);   // the row's line across the 640 px frame, at 2 µm/px
    }

    [Fact]
    public void When_the_cut_loops_alone_showed_the_way_the_row_is_found_again_along_their_axis()
    {
        // The nail at the bottom: three loops pointing down run out of the bottom edge, the only ones with confident
        // keypoints. Without them the second search took the image's top for distal, and the row deepest in the
        // nailfold (5 loops at y = 150) for the distal one (8 loops at y = 300).
        var loops = new List<CapillaryInstance>();
        foreach (int x in new[] { 200, 300, 400 })
            loops.Add(Loops.Loop(new(x, 465), degrees: 180) with { Mask = Rectangle(x - 15, 380, 30, 100), Box = Rectangle(x - 15, 380, 30, 100).TightBox() });
        static CapillaryInstance Faint(int x, int y) => Loops.Loop(new(x, y), degrees: 180, confidence: 0.01f);
        loops.AddRange(Enumerable.Range(0, 5).Select(i => Faint(100 + 100 * i, 150)));
        loops.AddRange(Enumerable.Range(0, 8).Select(i => Faint(40 + 75 * i, 300)));

        var result = new ImageMeasurer().Measure(loops, new Calibration(2.0), Width, Height);

        Assert.All(result.Capillaries.Take(3), c => Assert.True(c.ApexCutByFrame));
        Assert.True(result.DistalRow.DistalAxis.Y > 0.9, $"distal axis {result.DistalRow.DistalAxis}");
        Assert.Equal(Enumerable.Range(8, 8), result.DistalRow.Indices);
    }

    [Fact]
    public void A_mask_whose_distal_end_is_inside_the_frame_has_no_cut_tip()
    {
        // Cut at the bottom, behind the tip; its tip on the top edge; off every edge.
        Assert.False(FrameCut.TipOnFrame(Rectangle(100, 380, 30, 100), Up, Width, Height, 2));
        Assert.True(FrameCut.TipOnFrame(Rectangle(100, 0, 30, 100), Up, Width, Height, 2));
        Assert.False(FrameCut.TipOnFrame(Rectangle(100, 100, 30, 100), Up, Width, Height, 0));
        Assert.False(FrameCut.TipOnFrame(new InstanceMask(0, 0, 0, 0, []), Up, Width, Height, 2));
        // A diagonal mask touching the left edge only far behind its tip.
        var bits = new bool[40 * 40];
        for (int i = 0; i < 40; i++) bits[(39 - i) * 40 + i] = true;
        Assert.False(FrameCut.TipOnFrame(new InstanceMask(0, 100, 40, 40, bits), Up, Width, Height, 2));
    }

    [Fact]
    public void A_field_whose_every_loop_runs_out_of_the_frame_has_no_density_rather_than_zero()
    {
        var cut = Loops.Loop(new(520, 30), apical: 30);
        var result = new ImageMeasurer().Measure([cut with { Mask = Rectangle(505, 0, 30, 120), Box = Rectangle(505, 0, 30, 120).TightBox() }],
            new Calibration(2.0), Width, Height);

        Assert.True(result.Capillaries[0].ApexCutByFrame);
        Assert.Empty(result.DistalRow.Indices);
        Assert.Null(result.DensityPerMm);
        Assert.Contains(result.QualityNotes, n => n.Contains("outside the frame", StringComparison.Ordinal));

        var empty = new ImageMeasurer().Measure([], new Calibration(2.0), Width, Height);
        Assert.Equal(0, empty.DistalRow.DensityPerMm);   // no loop at all: density 0, as before
    }

    [Fact]
    public void A_hemorrhage_at_the_frame_edge_is_not_a_cut_apex()
    {
        var loops = RowWithACutLoop();
        loops[6] = loops[6] with { ClassProbabilities = [0, 0, 0, 1, 0] };   // the same shape, classed a hemorrhage
        var result = new ImageMeasurer().Measure(loops, new Calibration(2.0), Width, Height);

        Assert.False(result.Capillaries[6].ApexCutByFrame);
        Assert.Equal(ClinicalCategory.Hemorrhage, result.Capillaries[6].Category);
        Assert.DoesNotContain(result.QualityNotes, n => n.Contains("outside the frame", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_the_margin_option_the_cut_loop_is_measured_as_it_stands()
    {
        var options = new MeasurementOptions { ApexCutByFrameMarginPx = null };
        var cut = new ImageMeasurer(options).Measure(RowWithACutLoop(), new Calibration(2.0), Width, Height).Capillaries[6];

        Assert.False(cut.ApexCutByFrame);
        Assert.Equal(60, cut.ApicalDiameterUm!.Value, 5);
        Assert.True(cut.IsGiant);
    }

    [Fact]
    public void Only_the_edge_beyond_U_counts()
    {
        // Limbs cut at the bottom edge, behind the apex: the apex is in the frame.
        Assert.False(FrameCut.ApexOutside(Rectangle(100, 380, 30, 100), new Point2(115, 380), Up, Width, Height, 2));
        // The apex touching the top edge: its outer edge is the frame's first row, within the margin.
        Assert.False(FrameCut.ApexOutside(Rectangle(100, 0, 30, 100), new Point2(115, 1), Up, Width, Height, 2));
        Assert.True(FrameCut.ApexOutside(Rectangle(100, 0, 30, 100), new Point2(115, 3), Up, Width, Height, 2));
        // A mask off every edge is never cut.
        Assert.False(FrameCut.ApexOutside(Rectangle(100, 100, 30, 100), new Point2(115, 150), Up, Width, Height, 0));
        // Any orientation: a row pointing right, a loop running out of the right edge.
        Assert.True(FrameCut.ApexOutside(Rectangle(540, 200, 100, 30), new Point2(600, 215), new Point2(1, 0), Width, Height, 2));
    }

    [Fact]
    public void With_DilatedIncludesLimbs_a_cut_loop_whose_limb_is_wide_stays_dilated()
    {
        var fourMicrons = new Calibration(4.0);   // the cut loop's venous limb: 6 px, 24 µm
        var byLimbs = new ImageMeasurer(new MeasurementOptions { DilatedIncludesLimbs = true }).Measure(RowWithACutLoop(), fourMicrons, Width, Height);
        Assert.True(byLimbs.Capillaries[6].ApexCutByFrame);
        Assert.True(byLimbs.Capillaries[6].IsDilated);
        Assert.Null(byLimbs.Capillaries[6].IsGiant);
        Assert.Null(new ImageMeasurer().Measure(RowWithACutLoop(), fourMicrons, Width, Height).Capillaries[6].IsDilated);   // the apex decides, unknown
    }

    [Fact]
    public void A_negative_margin_is_refused()
    {
        var problems = new MeasurementOptions { ApexCutByFrameMarginPx = -1 }.Validate();
        Assert.Contains(problems, p => p.StartsWith("ApexCutByFrameMarginPx", StringComparison.Ordinal));
        Assert.Empty(new MeasurementOptions { ApexCutByFrameMarginPx = null }.Validate());
    }
}
