using NfcPipeline.Core.Domain;

namespace NfcPipeline.Core.Tests;

public class DomainTypesTests
{
    [Fact]
    public void Mask_crop_reports_area_membership_and_tight_box_in_image_pixels()
    {
        // A 3×2 crop at (10, 20) with an L shape of 4 pixels.
        var mask = new InstanceMask(10, 20, 3, 2, [true, false, false, true, true, true]);

        Assert.Equal(4, mask.Area);
        Assert.True(mask.Contains(10, 20));
        Assert.False(mask.Contains(11, 20));
        Assert.True(mask.Contains(12, 21));
        Assert.False(mask.Contains(13, 21));
        Assert.Equal(new BoundingBox(10, 20, 13, 22), mask.TightBox());
    }

    [Fact]
    public void Mask_iou_of_two_overlapping_squares_is_exact()
    {
        var a = new InstanceMask(0, 0, 4, 4, Enumerable.Repeat(true, 16).ToArray());
        var b = new InstanceMask(2, 2, 4, 4, Enumerable.Repeat(true, 16).ToArray());

        Assert.Equal(4, a.IntersectionArea(b));
        Assert.Equal(4.0 / 28.0, a.IntersectionOverUnion(b), 12);
        Assert.Equal(1.0, a.IntersectionOverUnion(a), 12);
    }

    [Fact]
    public void Box_iou_matches_hand_computation()
    {
        var a = new BoundingBox(0, 0, 10, 10);
        var b = new BoundingBox(5, 0, 15, 10);
        Assert.Equal(50f / 150f, a.IntersectionOverUnion(b), 6);
        Assert.Equal(0f, a.IntersectionOverUnion(new BoundingBox(20, 20, 30, 30)));
    }

    [Theory]
    [InlineData(0.01, true)]
    [InlineData(2.43, true)]
    [InlineData(100.0, true)]
    [InlineData(0.009, false)]
    [InlineData(100.5, false)]
    [InlineData(5e-324, false)]
    [InlineData(double.NaN, false)]
    [InlineData(double.PositiveInfinity, false)]
    public void Only_calibrations_a_capillaroscope_could_give_are_plausible(double umPerPx, bool plausible)
    {
        // One rule for every way a calibration comes in (manifest, submission, CLI, the worker's default).
        Assert.Equal(plausible, Calibration.IsPlausible(umPerPx));
    }

    [Fact]
    public void Mask_with_wrong_bit_count_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => new InstanceMask(0, 0, 2, 2, new bool[3]));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Calibration_refuses_non_positive_or_non_finite_scales(double umPerPx)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Calibration(umPerPx));
    }

    [Fact]
    public void Capillary_instance_class_is_the_most_probable_one()
    {
        var instance = new CapillaryInstance
        {
            Mask = new InstanceMask(0, 0, 1, 1, [true]),
            Box = new BoundingBox(0, 0, 1, 1),
            ClassNames = ["hairpin", "tortuous", "blur"],
            ClassProbabilities = [0.2f, 0.7f, 0.1f],
            Score = 0.9f,
            Keypoints = Enumerable.Range(0, KeypointNames.Count).Select(i => new Keypoint(i, 2 * i, 1f)).ToArray(),
        };

        Assert.Equal(1, instance.ClassIndex);
        Assert.Equal("tortuous", instance.ClassName);
        Assert.Equal(new Keypoint(7, 14, 1f), instance[KeypointName.RightBottom]);
        Assert.Equal(5f, Keypoint.Distance(new Keypoint(0, 0, 1), new Keypoint(3, 4, 1)));
    }
}
