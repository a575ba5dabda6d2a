using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;
using NfcPipeline.Core.Tests.Support;

namespace NfcPipeline.Core.Tests.Measurements;

public class DistalRowTests
{
    private const int Width = 1024, Height = 768;
    private static readonly Point2 Centre = new(Width / 2.0, Height / 2.0);
    private static readonly Calibration TwoMicrons = new(2.0);

    /// <summary>
    /// 15 distal loops 60 px (120 µm) apart along y ≈ 200 with a few px of jitter, and a second row of 5 loops
    /// 100 px further back (behind distal loops 1, 3, 5, 7, 9) that must not count. Instances 0–14 are distal.
    /// </summary>
    private static List<CapillaryInstance> TwoRows()
    {
        var loops = new List<CapillaryInstance>();
        for (int i = 0; i < 15; i++)
            loops.Add(Loops.Loop(new(70 + 60 * i, 200 + (i * 37 % 13) - 6), apical: 6 + i % 4, leftLimb: 4 + i % 3, rightLimb: 5));
        for (int j = 0; j < 5; j++)
            loops.Add(Loops.Loop(new(130 + 120 * j, 300 + j % 2 * 5), className: j == 2 ? "ramified" : "hairpin"));
        return loops;
    }

    private static ImageMeasurement Measure(IReadOnlyList<CapillaryInstance> loops, Calibration? calibration = null, FieldOfView? field = null,
        int width = Width, int height = Height) =>
        new ImageMeasurer().Measure(loops, calibration ?? TwoMicrons, width, height, field ?? FieldOfView.Rectangle(width, height));

    [Fact]
    public void Distal_row_keeps_the_outermost_loops_and_drops_the_row_behind()
    {
        var result = Measure(TwoRows());

        Assert.Equal(Enumerable.Range(0, 15), result.DistalRow.Indices);
        Assert.Equal(DistalAxisSource.RowLineFit, result.DistalRow.AxisSource);
        Assert.True(result.DistalRow.DistalAxis.Y < -0.99);            // distal = towards the top of this image
        // Row line across a 1024 px frame at 2 µm/px ≈ 2.048 mm (a tilt of a degree or two lengthens it slightly).
        Assert.InRange(result.DistalRow.LineLengthMm!.Value, 2.048, 2.060);
        Assert.InRange(result.DensityPerMm!.Value, 15 / 2.060, 15 / 2.048);
        Assert.Equal(ImageQuality.Good, result.Quality);
    }

    public static TheoryData<double> Angles => [0, 37, 90, 180, 270];

    [Theory]
    [MemberData(nameof(Angles))]
    public void Rotating_the_whole_image_keeps_the_distal_set_and_the_density(double degrees)
    {
        var upright = Measure(TwoRows());

        // Quarter turns map the image onto a real W×H or H×W frame; other angles keep the turned frame as a polygon.
        bool quarter = degrees % 90 == 0;
        bool swapped = quarter && degrees % 180 != 0;
        int width = swapped ? Height : Width, height = swapped ? Width : Height;
        Point2 shift = quarter ? new Point2(width / 2.0, height / 2.0) - Centre : default;
        var turned = TwoRows().Select(l => Loops.Transform(l, degrees, Centre, shift)).ToList();
        var field = quarter ? FieldOfView.Rectangle(width, height) : FieldOfView.Rectangle(Width, Height).Rotated(degrees, Centre);

        var result = Measure(turned, field: field, width: width, height: height);

        Assert.Equal(upright.DistalRow.Indices, result.DistalRow.Indices);
        Assert.Equal(upright.DensityPerMm!.Value, result.DensityPerMm!.Value, 4);
        Point2 expectedAxis = FieldOfView.Rotate(upright.DistalRow.DistalAxis, degrees, default);
        Assert.Equal(expectedAxis.X, result.DistalRow.DistalAxis.X, 4);
        Assert.Equal(expectedAxis.Y, result.DistalRow.DistalAxis.Y, 4);
    }

    [Fact]
    public void The_order_of_the_capillaries_does_not_matter()
    {
        var loops = TwoRows();
        var permutation = Enumerable.Range(0, loops.Count).Select(i => (i * 7 + 3) % loops.Count).ToArray();
        var shuffled = permutation.Select(i => loops[i]).ToList();

        var straight = Measure(loops);
        var mixed = Measure(shuffled);

        var distalFromMixed = mixed.DistalRow.Indices.Select(i => permutation[i]).Order();
        Assert.Equal(straight.DistalRow.Indices, distalFromMixed);
        Assert.Equal(straight.DensityPerMm!.Value, mixed.DensityPerMm!.Value, 9);
    }

    [Fact]
    public void Changing_only_the_calibration_scales_density_inversely()
    {
        // Same pixels, 3 µm/px instead of 2: the row line is 1.5× longer in mm, so the density is 1/1.5 of it.
        var at2 = Measure(TwoRows());
        var at3 = Measure(TwoRows(), new Calibration(3.0));
        Assert.Equal(at2.DistalRow.Indices, at3.DistalRow.Indices);
        Assert.Equal(at2.DensityPerMm!.Value / 1.5, at3.DensityPerMm!.Value, 9);
        Assert.Equal(at2.Capillaries[0].ApicalDiameterUm!.Value * 1.5, at3.Capillaries[0].ApicalDiameterUm!.Value, 6);
    }

    [Fact]
    public void Imaging_the_same_nailfold_at_twice_the_resolution_changes_no_physical_value()
    {
        // Twice the pixels per µm (1 µm/px), a 2048×1536 frame: µm diameters and density per mm stay the same.
        var at2 = Measure(TwoRows());
        var fine = TwoRows().Select(l => Loops.Transform(l, 0, default, default, scale: 2)).ToList();
        var atFine = Measure(fine, new Calibration(1.0), width: 2 * Width, height: 2 * Height);
        Assert.Equal(at2.DistalRow.Indices, atFine.DistalRow.Indices);
        Assert.Equal(at2.DensityPerMm!.Value, atFine.DensityPerMm!.Value, 6);
        Assert.Equal(at2.Capillaries[3].ApicalDiameterUm!.Value, atFine.Capillaries[3].ApicalDiameterUm!.Value, 3);
    }

    [Fact]
    public void A_deeper_loop_seen_through_a_gap_in_the_row_is_not_distal()
    {
        var loops = TwoRows();
        loops.RemoveAt(7);   // the distal loop in front of the deeper loop at x = 490
        var result = Measure(loops);
        Assert.Equal(Enumerable.Range(0, 14), result.DistalRow.Indices);
        Assert.InRange(result.DensityPerMm!.Value, 14 / 2.060, 14 / 2.048);
    }

    [Fact]
    public void A_full_deeper_row_offset_sideways_is_not_distal()
    {
        // As many deeper loops as distal ones, staggered half a spacing sideways so none sits right behind a distal
        // apex, one loop height plus a little (110 px) further back.
        var loops = TwoRows().Take(15).ToList();
        for (int j = 0; j < 15; j++)
            loops.Add(Loops.Loop(new(100 + 60 * j, 310 + (j * 29 % 11) - 5)));
        var result = Measure(loops);
        Assert.Equal(Enumerable.Range(0, 15), result.DistalRow.Indices);
        Assert.InRange(result.DensityPerMm!.Value, 15 / 2.060, 15 / 2.048);
    }

    [Fact]
    public void One_stray_apex_far_in_front_of_the_row_does_not_replace_it()
    {
        var loops = TwoRows().Take(15).ToList();
        loops.Add(Loops.Loop(new(500, 80)));   // 120 px in front of a 15-loop row
        var result = Measure(loops);
        Assert.Equal(Enumerable.Range(0, 15), result.DistalRow.Indices);
    }

    [Fact]
    public void Nor_does_one_in_front_of_a_sparse_row_of_three()
    {
        // 30 % of a 3-loop row is one loop: the stray alone passed as the distal row, a density of 1/L for 3/L, in
        // exactly the sparse fields where the ≤ 3/mm rule decides.
        List<CapillaryInstance> loops = [Loops.Loop(new(300, 300)), Loops.Loop(new(500, 300)), Loops.Loop(new(700, 300)), Loops.Loop(new(500, 150))];
        var result = Measure(loops);
        Assert.Equal([0, 1, 2], result.DistalRow.Indices);

        // A share of 0 still takes the front row, however small, as documented.
        var frontAlways = new ImageMeasurer(distalRow: new Core.Options.DistalRowOptions { MinRowShareOfLargest = 0 })
            .Measure(loops, TwoMicrons, Width, Height, FieldOfView.Rectangle(Width, Height));
        Assert.Equal([3], frontAlways.DistalRow.Indices);
    }

    [Theory]
    [InlineData(7, 150, 15)]
    [InlineData(5, 200, 12)]
    [InlineData(5, 200, -20)]
    public void A_sparse_row_leaning_against_upright_loops_keeps_all_its_loops(int count, double spacing, double rowDegrees)
    {
        // Upright loops on a row turned by rowDegrees: along the loops, each apex lies spacing × sin(tilt) deeper than
        // the last, more than the row gap (36 px here), but across the row they all lie on one line.
        Point2 along = FieldOfView.Rotate(new(1, 0), rowDegrees, default);
        Point2 start = new Point2(512, 300) - along * (spacing * (count - 1) / 2);
        var loops = Enumerable.Range(0, count).Select(i => Loops.Loop(start + along * (spacing * i))).ToList();

        var result = Measure(loops);

        Assert.Equal(Enumerable.Range(0, count), result.DistalRow.Indices);
        Assert.Equal(count / result.DistalRow.LineLengthMm!.Value, result.DensityPerMm!.Value, 9);
        Assert.Equal(DistalAxisSource.RowLineFit, result.DistalRow.AxisSource);
    }

    [Fact]
    public void A_single_loop_is_its_own_row()
    {
        var result = Measure([Loops.Loop(new(400, 300), degrees: 20)]);
        Assert.Equal([0], result.DistalRow.Indices);
        Assert.Equal(DistalAxisSource.LimbDirection, result.DistalRow.AxisSource);
        Assert.Equal(1 / result.DistalRow.LineLengthMm!.Value, result.DensityPerMm!.Value, 9);
        Assert.Equal(ImageQuality.Limited, result.Quality);     // a sparse row
        Assert.True(result.Grading.IsGradable);
    }

    [Fact]
    public void A_row_line_shorter_than_the_minimum_gives_no_density_and_says_why()
    {
        // One loop near the top-left corner, its limbs pointing there: the row line through its apex crosses the corner
        // over 80√2 px = 0.226 mm at 2 µm/px, which would read as 4.4/mm from a single loop.
        List<CapillaryInstance> corner = [Loops.Loop(new(40, 40), degrees: -45)];

        var result = Measure(corner);

        Assert.Equal([0], result.DistalRow.Indices);
        Assert.True(result.DistalRow.DistalAxis.X < -0.7 && result.DistalRow.DistalAxis.Y < -0.7);
        Assert.Equal(80 * Math.Sqrt(2) * 2 / 1000, result.DistalRow.LineLengthMm!.Value, 4);
        Assert.True(result.DistalRow.LineTooShort);
        Assert.Null(result.DensityPerMm);
        Assert.True(result.Grading.IsGradable);
        Assert.Contains(result.QualityNotes, n => n.Contains("crosses only 0.226 mm of the field, less than the 0.5 mm needed", StringComparison.Ordinal));
        Assert.DoesNotContain(result.QualityNotes, n => n.Contains("does not cross", StringComparison.Ordinal));

        var kept = new ImageMeasurer(distalRow: new DistalRowOptions { MinRowLengthMm = 0 })
            .Measure(corner, TwoMicrons, Width, Height);
        Assert.False(kept.DistalRow.LineTooShort);
        Assert.Equal(1 / kept.DistalRow.LineLengthMm!.Value, kept.DensityPerMm!.Value, 9);
    }

    [Fact]
    public void Sparse_image_with_one_loop_behind_another_counts_one()
    {
        var result = Measure([Loops.Loop(new(400, 300)), Loops.Loop(new(405, 420))]);
        Assert.Equal([0], result.DistalRow.Indices);
    }

    [Fact]
    public void Three_loops_side_by_side_all_count()
    {
        var result = Measure([Loops.Loop(new(300, 300), 15), Loops.Loop(new(360, 316), 15), Loops.Loop(new(420, 332), 15)]);
        Assert.Equal([0, 1, 2], result.DistalRow.Indices);
        Assert.Equal(3 / result.DistalRow.LineLengthMm!.Value, result.DensityPerMm!.Value, 9);
    }

    [Fact]
    public void Hemorrhages_are_not_in_the_row_and_hide_nothing()
    {
        var loops = TwoRows();
        loops.Add(Loops.Loop(new(250, 120), className: "hemorrhage"));
        var result = Measure(loops);
        Assert.Equal(Enumerable.Range(0, 15), result.DistalRow.Indices);
        Assert.Equal(1, result.HemorrhageCount);
    }

    [Fact]
    public void Uncertain_apex_falls_back_to_the_mask_tip_along_the_axis()
    {
        var loops = TwoRows();
        var kp = loops[4].Keypoints.ToArray();
        kp[0] = kp[0] with { Confidence = 0.05f };
        loops[4] = loops[4] with { Keypoints = kp };   // its 1-pixel mask still marks the apex
        var result = Measure(loops);
        Assert.Contains(4, result.DistalRow.Indices);
        Assert.Null(result.Capillaries[4].Apex);
    }

    [Fact]
    public void Empty_image_has_no_row_and_is_ungradable()
    {
        var result = Measure([]);
        Assert.Empty(result.DistalRow.Indices);
        Assert.Equal(0, result.DensityPerMm);
        Assert.False(result.Grading.IsGradable);
        Assert.Equal(UngradableReason.TooFewConfidentInstances, result.Grading.Reason);
        Assert.Equal(ImageQuality.Ungradable, result.Quality);
    }

    [Fact]
    public void A_vertical_row_of_loops_without_confident_keypoints_is_one_row()
    {
        // Nail on the right: 8 loops 80 px apart down the frame, pointing right, every keypoint below the confidence
        // gates, masks covering each loop (90 px long, 30 px wide).
        var loops = Enumerable.Range(0, 8).Select(i =>
        {
            var loop = Loops.Loop(new(700, 104 + 80 * i), degrees: -90, confidence: 0.05f);
            return loop with { Mask = new InstanceMask(610, 89 + 80 * i, 90, 30, Enumerable.Repeat(true, 90 * 30).ToArray()) };
        }).ToList();

        var result = Measure(loops);

        Assert.Equal(DistalAxisSource.RowLineFit, result.DistalRow.AxisSource);
        Assert.True(Math.Abs(result.DistalRow.DistalAxis.X) > 0.99);
        Assert.Equal(Enumerable.Range(0, 8), result.DistalRow.Indices);
        Assert.InRange(result.DensityPerMm!.Value, 8 / 1.537, 8 / 1.535);   // along the 768 px (1.536 mm) column
    }

    [Fact]
    public void A_vertical_row_without_confident_keypoints_is_not_cut_by_the_frame_on_a_guessed_side()
    {
        // Nail on the left: the loops point left, their bases on the right edge. Which way the row's normal pointed came
        // from the sign of a zero (the row runs straight up): it pointed right, every base was taken for an apex on the
        // frame, every loop was cut, and the image had no density.
        var loops = Enumerable.Range(0, 8).Select(i =>
        {
            var loop = Loops.Loop(new(Width - 90, 104 + 80 * i), degrees: 90, confidence: 0.05f);
            return loop with { Mask = new InstanceMask(Width - 90, 89 + 80 * i, 90, 30, Enumerable.Repeat(true, 90 * 30).ToArray()) };
        }).ToList();

        var result = Measure(loops);

        Assert.True(result.DistalRow.DirectionUnknown);
        Assert.DoesNotContain(result.Capillaries, c => c.ApexCutByFrame);
        Assert.Equal(Enumerable.Range(0, 8), result.DistalRow.Indices);
        Assert.InRange(result.DensityPerMm!.Value, 8 / 1.537, 8 / 1.535);
        // A row across the image: "towards the top" tells its sides apart, as ever.
        var across = Measure(Enumerable.Range(0, 8).Select(i => Loops.Loop(new(104 + 100 * i, 200), confidence: 0.05f)).ToList());
        Assert.Equal(DistalAxisSource.RowLineFit, across.DistalRow.AxisSource);
        Assert.False(across.DistalRow.DirectionUnknown);
    }

    [Fact]
    public void Blurred_loops_whose_apices_all_lie_outside_the_frame_give_no_density_rather_than_zero()
    {
        // Counted blurred capillaries are row candidates: cut by the frame, they leave the density unknown, not 0.
        var options = new Options.DistalRowOptions { CountBlurredInstances = true };
        var blurred = Loops.Loop(new(300, 8), className: "blur");
        blurred = blurred with { Mask = new InstanceMask(290, 0, 20, 20, Enumerable.Repeat(true, 400).ToArray()) };   // runs out at the top
        var loops = new List<CapillaryInstance> { blurred, Loops.Loop(new(500, 120), className: "hemorrhage") };
        var result = new ImageMeasurer(distalRow: options).Measure(loops, TwoMicrons, Width, Height);
        Assert.True(result.Capillaries[0].ApexCutByFrame);
        Assert.Empty(result.DistalRow.Indices);
        Assert.Null(result.DensityPerMm);
    }
}
