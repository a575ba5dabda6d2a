using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Tests.Decoding;

/// <summary>The field's brightness, and the orientation it gives loops whose own directions cancel out.</summary>
public class FieldBrightnessTests
{
    private static readonly ResizePlan Plan = new(128, 96, 128, 96, 128, 96);

    /// <summary>A model input for <paramref name="plan"/> whose value is perColumn × x + perRow × y (model pixels), padding 100.</summary>
    internal static FieldBrightness Gradient(ResizePlan plan, float perColumn, float perRow)
    {
        int h = plan.PaddedHeight, w = plan.PaddedWidth;
        var input = new float[3 * h * w];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    input[(c * h + y) * w + x] = x < plan.ResizedWidth && y < plan.ResizedHeight ? perColumn * x + perRow * y : 100f;
        return new FieldBrightness(input, plan);
    }

    [Fact]
    public void The_correlation_follows_the_gradient_and_the_padding_does_not_count()
    {
        // 120×80 of the 128×96 input is the image; the padding's 100s would dominate if they counted.
        var plan = new ResizePlan(120, 80, 120, 80, 128, 96);
        var brighterUp = Gradient(plan, 0, -0.01f);

        Assert.True(brighterUp.CorrelationAlong((0, -1)) > 0.99);
        Assert.True(brighterUp.CorrelationAlong((0, 1)) < -0.99);
        Assert.Equal(0, brighterUp.CorrelationAlong((1, 0)), 6);
        Assert.Equal(0, Gradient(plan, 0, 0).CorrelationAlong((0, 1)));
    }

    [Fact]
    public void Block_positions_are_in_original_pixels()
    {
        // Squeezed to half its width: brightening along model (2, −1) is brightening along original (1, −1), since an
        // original pixel x lies at model x / 2. Read in model pixels, the gradient would point along (2, −1).
        var plan = new ResizePlan(256, 96, 128, 96, 128, 96);
        var field = Gradient(plan, 2f, -1f);
        float s = MathF.Sqrt(0.5f), a = 2 / MathF.Sqrt(5), b = 1 / MathF.Sqrt(5);
        Assert.True(field.CorrelationAlong((s, -s)) > 0.999);
        Assert.True(field.CorrelationAlong((a, -b)) < 0.99);
    }

    [Fact]
    public void An_input_smaller_than_its_plan_is_refused() =>
        Assert.Throws<ArgumentException>(() => new FieldBrightness(new float[3 * 96 * 127], Plan));

    /// <summary>A loop at <paramref name="x"/> whose base → apex direction is (dx, dy).</summary>
    private static Keypoint[] Loop(float x, float dx, float dy)
    {
        var k = new Keypoint[8];
        var (bx, by) = (x, 48f);
        for (int i = 0; i < 8; i++) k[i] = new Keypoint(bx, by, 0.5f);
        k[0] = new Keypoint(bx + 20 * dx, by + 20 * dy, 0.5f);
        return k;
    }

    private static readonly Keypoint[][] UpAndDown = [Loop(10, 0, -1), Loop(40, 0, 1), Loop(70, 0, -1), Loop(100, 0, 1)];

    [Fact]
    public void Loops_that_cancel_out_point_to_the_brighter_end_of_their_common_axis()
    {
        var options = new DenseDecoderOptions();
        Assert.Null(KeypointOrientation.Consensus(UpAndDown, options));
        Assert.Equal((0f, -1f), Rounded(KeypointOrientation.Consensus(UpAndDown, options, Gradient(Plan, 0, -0.01f))));
        Assert.Equal((0f, 1f), Rounded(KeypointOrientation.Consensus(UpAndDown, options, Gradient(Plan, 0, 0.01f))));
        Assert.Null(KeypointOrientation.Consensus(UpAndDown, options with { OrientByBrightness = false }, Gradient(Plan, 0, -0.01f)));
        // Loops that agree need no brightness, and a brightness that disagrees does not overrule them.
        Keypoint[][] allUp = [Loop(10, 0, -1), Loop(40, 0, -1), Loop(70, 0, -1)];
        Assert.Equal((0f, -1f), Rounded(KeypointOrientation.Consensus(allUp, options, Gradient(Plan, 0, 0.01f))));
    }

    [Fact]
    public void Axes_that_disagree_or_a_brightness_that_hardly_follows_the_axis_orient_nothing()
    {
        var options = new DenseDecoderOptions();
        Keypoint[][] fourWays = [Loop(10, 0, -1), Loop(40, 0, 1), Loop(70, 1, 0), Loop(100, -1, 0)];
        Assert.Null(KeypointOrientation.Consensus(fourWays, options, Gradient(Plan, 0, -0.01f)));

        // Brightening mostly across the axis: along it the correlation is about 0.1.
        var across = Gradient(Plan, 0.01f, -0.0015f);
        Assert.InRange(across.CorrelationAlong((0, -1)), 0.08, 0.15);
        Assert.Null(KeypointOrientation.Consensus(UpAndDown, options, across));
        Assert.Equal((0f, -1f), Rounded(KeypointOrientation.Consensus(UpAndDown, options with { OrientationMinBrightnessCorrelation = 0.05f }, across)));
    }

    private static (float, float) Rounded((float X, float Y)? d) =>
        d is { } v ? (MathF.Round(v.X, 4) + 0f, MathF.Round(v.Y, 4) + 0f) : throw new Xunit.Sdk.XunitException("no consensus");
}
