using NfcPipeline.Core.Geometry;

namespace NfcPipeline.Core.Tests.Geometry;

public class FieldOfViewTests
{
    [Fact]
    public void A_concave_or_non_finite_outline_is_refused()
    {
        // An L-shape: the clip, valid for convex polygons only, gave a 100 px chord where the line crosses 200 px,
        // doubling the density.
        var l = new Point2[] { new(0, 0), new(200, 0), new(200, 100), new(100, 100), new(100, 200), new(0, 200) };
        Assert.Contains("convex", Assert.Throws<ArgumentException>(() => new FieldOfView(l)).Message);
        Assert.Contains("convex", Assert.Throws<ArgumentException>(() => new FieldOfView(l.Reverse().ToArray())).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() =>
            new FieldOfView([new(0, 0), new(double.NaN, 0), new(100, 100), new(0, 100)])).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_convex_outline_is_taken_either_way_round_with_straight_corners_too(bool reversed)
    {
        // A collinear corner (200, 50) on the right edge, as a rotated, rounded outline may have.
        Point2[] corners = [new(0, 0), new(200, 0), new(200, 50), new(200, 100), new(0, 100)];
        var field = new FieldOfView(reversed ? corners.Reverse().ToArray() : corners);
        var chord = field.ClipLine(new Point2(50, 50), new Point2(1, 0));
        Assert.NotNull(chord);
        Assert.Equal(200, Point2.Distance(chord.Value.Start, chord.Value.End), 6);
        Assert.NotNull(FieldOfView.Rectangle(640, 480).Rotated(17, new Point2(320, 240)));
    }
}
