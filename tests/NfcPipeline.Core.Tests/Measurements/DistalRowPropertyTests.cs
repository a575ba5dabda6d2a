using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Tests.Support;

namespace NfcPipeline.Core.Tests.Measurements;

/// <summary>Seeded random nailfolds: a tilted distal row of 8–14 loops with varied sizes, some deeper loops, at random angles.</summary>
public class DistalRowPropertyTests
{
    private static readonly Point2 Centre = new(512, 384);

    private static (List<CapillaryInstance> Loops, int DistalCount) RandomNailfold(Random random)
    {
        double tilt = random.NextDouble() * 20 - 10;
        Point2 along = FieldOfView.Rotate(new(1, 0), tilt, default), back = FieldOfView.Rotate(new(0, 1), tilt, default);
        int count = random.Next(8, 15);
        double spacing = 880.0 / count;
        Point2 start = new Point2(512, 250) - along * (spacing * (count - 1) / 2);
        var loops = new List<CapillaryInstance>();
        for (int i = 0; i < count; i++)
            loops.Add(Loops.Loop(start + along * (spacing * i) + back * (random.NextDouble() * 12 - 6), tilt + random.NextDouble() * 16 - 8,
                apical: 6 + random.NextDouble() * 5, leftLimb: 4 + random.NextDouble() * 3, rightLimb: 4 + random.NextDouble() * 3,
                height: 80 + random.NextDouble() * 25, width: 26 + random.NextDouble() * 8));
        for (int j = 0; j < 4; j++)
        {
            int behind = random.Next(count);
            loops.Add(Loops.Loop(start + along * (spacing * behind + random.NextDouble() * 10 - 5) + back * (110 + random.NextDouble() * 40), tilt));
        }
        return (loops, count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void Random_nailfolds_keep_their_distal_row_under_any_rotation(int seed)
    {
        var random = new Random(seed);
        var (loops, distalCount) = RandomNailfold(random);
        var measurer = new ImageMeasurer();
        var upright = measurer.Measure(loops, new Calibration(2.0), 1024, 768);
        Assert.Equal(Enumerable.Range(0, distalCount), upright.DistalRow.Indices);

        double degrees = random.NextDouble() * 360;
        var turned = loops.Select(l => Loops.Transform(l, degrees, Centre, default)).ToList();
        var field = FieldOfView.Rectangle(1024, 768).Rotated(degrees, Centre);
        var result = measurer.Measure(turned, new Calibration(2.0), 1024, 768, field);

        Assert.Equal(upright.DistalRow.Indices, result.DistalRow.Indices);
        Assert.Equal(upright.DensityPerMm!.Value, result.DensityPerMm!.Value, 4);
    }
}
