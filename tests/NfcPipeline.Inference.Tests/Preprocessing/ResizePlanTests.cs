using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Tests.Preprocessing;

public class ResizePlanTests
{
    [Theory]
    [InlineData(1024, 768, 0, 32, 1024, 768, 1024, 768)]
    [InlineData(1280, 1024, 0, 32, 1280, 1024, 1280, 1024)]
    [InlineData(1000, 750, 0, 32, 1000, 750, 1024, 768)]
    [InlineData(1280, 1024, 512, 32, 640, 512, 640, 512)]
    [InlineData(1024, 768, 500, 16, 667, 500, 672, 512)]
    [InlineData(768, 1024, 500, 16, 500, 667, 512, 672)]
    public void Short_side_policy_keeps_the_aspect_and_pads_to_the_multiple(int w, int h, int shortSide, int multiple, int rw, int rh, int pw, int ph)
    {
        var plan = new ShortSideSizePolicy(shortSide, multiple).Plan(w, h);
        Assert.Equal(new ResizePlan(w, h, rw, rh, pw, ph), plan);
    }

    [Fact]
    public void Fixed_policy_resizes_to_exactly_its_size()
    {
        Assert.Equal(new ResizePlan(1280, 1024, 640, 480, 640, 480), new FixedSizePolicy(640, 480).Plan(1280, 1024));
    }

    [Theory]
    [InlineData(1024, 768, 0)]
    [InlineData(1280, 1024, 512)]
    [InlineData(1000, 750, 333)]
    public void Coordinates_round_trip_exactly_between_original_and_model_pixels(int w, int h, int shortSide)
    {
        var plan = new ShortSideSizePolicy(shortSide, 32).Plan(w, h);
        foreach (var x in new[] { -0.5, 0, 0.25, 17.3, w / 2.0, w - 1, w - 0.5 })
            Assert.Equal(x, plan.ToOriginalX(plan.ToModelX(x)), 9);
        foreach (var y in new[] { -0.5, 0, 3.75, h - 1, h - 0.5 })
            Assert.Equal(y, plan.ToOriginalY(plan.ToModelY(y)), 9);
        // The image's outer edges map onto the resized image's outer edges (padding adds nothing on the left or top).
        Assert.Equal(-0.5, plan.ToModelX(-0.5), 9);
        Assert.Equal(plan.ResizedWidth - 0.5, plan.ToModelX(w - 0.5), 9);
        Assert.Equal(plan.ResizedHeight - 0.5, plan.ToModelY(h - 0.5), 9);
    }

    [Fact]
    public void Halving_maps_model_pixel_centres_onto_the_centre_of_two_original_pixels()
    {
        var plan = new ShortSideSizePolicy(384, 1).Plan(1024, 768);
        Assert.Equal(0.5, plan.ToOriginalX(0), 9);   // model pixel 0 covers original pixels 0 and 1
        Assert.Equal(2.5, plan.ToOriginalX(1), 9);
    }
}
