using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Decoding;

namespace NfcPipeline.Inference.Tests.Decoding;

/// <summary>The orientation consensus: loops pointing against their field's others, and fields whose loops cancel out.</summary>
public partial class DenseDecoderTests
{
    /// <summary>
    /// Loops A, A+12, A+24 and A+36 cells, all apex up; in the last one U and D peak more strongly below the limb
    /// bottoms (row 32 and 29) than at the real apex (rows 9 and 12, scaled by <paramref name="apexHeat"/>).
    /// </summary>
    private static (List<NamedTensor> Maps, Blob Flipped) FieldWithOneFlippedLoop(int loops, float apexHeat)
    {
        var (maps, flipped) = FieldWithFlippedLoops(loops, 1, apexHeat);
        return (maps, flipped[0]);
    }

    /// <summary>As <see cref="FieldWithOneFlippedLoop"/>, with the last <paramref name="flippedCount"/> loops flipped.</summary>
    private static (List<NamedTensor> Maps, Blob[] Flipped) FieldWithFlippedLoops(int loops, int flippedCount, float apexHeat)
    {
        var blobs = Enumerable.Range(0, loops).Select(i => Shifted(A, 12 * i)).ToArray();
        var flipped = blobs[^flippedCount..];
        var maps = BuildMaps(true, blobs);
        Edit(maps, "keypoints", (data, n) =>
        {
            foreach (var f in flipped)
            {
                int x = f.X0 + 2;
                data[32 * GridW + x] = 0.9f;          // U at the base
                data[n + 29 * GridW + x] = 0.9f;      // D three cells above it
                foreach (int c in new[] { 0, 1 })
                    foreach (int cell in new[] { (c == 0 ? 9 : 12) * GridW + f.X0, (c == 0 ? 9 : 12) * GridW + f.X0 + 1 })
                        data[c * n + cell] *= apexHeat;
            }
        });
        return (maps, flipped);
    }

    private static CapillaryInstance Decoded(List<NamedTensor> maps, Blob blob, DenseDecoderOptions? options = null,
        FieldBrightness? brightness = null) =>
        new DenseDecoder(Classes, Stride, options ?? BlobOptions)
            .Decode(DenseOutputs.ForBatchItem(maps, 0, Classes.Length), Unscaled, brightness)
            .Single(i => i.Box.X1 == blob.X0 * Stride);

    [Fact]
    public void A_loop_pointing_against_the_fields_other_loops_has_its_apex_searched_again_towards_the_nail()
    {
        var (maps, flipped) = FieldWithOneFlippedLoop(4, 1f);

        var oriented = Decoded(maps, flipped);
        var alone = Decoded(maps, flipped, BlobOptions with { OrientByConsensus = false });

        for (int k = 0; k < 8; k++)
        {
            Assert.Equal(flipped.Keypoints[k].X, oriented.Keypoints[k].X, 3);
            Assert.Equal(flipped.Keypoints[k].Y, oriented.Keypoints[k].Y, 3);
        }
        Assert.Equal(CellCentre(32), alone.Keypoints[0].Y, 3);
        Assert.Equal(CellCentre(29), alone.Keypoints[1].Y, 3);
        // The loops that agreed are decoded as before.
        var first = Decoded(maps, A);
        Assert.Equal(A.Keypoints[0].Y, first.Keypoints[0].Y, 3);
    }

    [Fact]
    public void The_search_again_stands_only_with_a_confident_apex_and_only_when_enough_loops_agree()
    {
        // The nail-side U peaks at 0.8 × 0.05 = 0.04, under the 0.08 gate: the original keypoints stay.
        var (weak, flippedWeak) = FieldWithOneFlippedLoop(4, 0.05f);
        Assert.Equal(CellCentre(32), Decoded(weak, flippedWeak).Keypoints[0].Y, 3);
        Assert.Equal(A.Keypoints[0].Y, Decoded(weak, flippedWeak, BlobOptions with { OrientationMinApexConfidence = 0.01f }).Keypoints[0].Y, 3);

        // Three loops, one of them flipped: their mean direction is 0.35 long, under the 0.5 coherence a consensus needs.
        var (three, flippedOfThree) = FieldWithOneFlippedLoop(3, 1f);
        Assert.Equal(CellCentre(32), Decoded(three, flippedOfThree).Keypoints[0].Y, 3);
        var lenient = Decoded(three, flippedOfThree, BlobOptions with { OrientationMinCoherence = 0.3f });
        Assert.Equal(flippedOfThree.Keypoints[0].X, lenient.Keypoints[0].X, 3);
        Assert.Equal(flippedOfThree.Keypoints[0].Y, lenient.Keypoints[0].Y, 3);
    }

    private static FieldBrightness Brightening(float perRow) => FieldBrightnessTests.Gradient(Unscaled, 0, perRow);

    [Fact]
    public void When_half_the_loops_point_each_way_the_brighter_end_of_their_axis_is_the_nails()
    {
        // Two loops apex up, two seen upside down: their directions cancel out, their axes agree.
        var (maps, flipped) = FieldWithFlippedLoops(4, 2, 1f);

        var brightAbove = Brightening(-0.01f);
        foreach (var f in flipped)
        {
            var oriented = Decoded(maps, f, brightness: brightAbove);
            for (int k = 0; k < 8; k++)
            {
                Assert.Equal(f.Keypoints[k].X, oriented.Keypoints[k].X, 3);
                Assert.Equal(f.Keypoints[k].Y, oriented.Keypoints[k].Y, 3);
            }
            // Without the brightness, or with it switched off, flat or brighter below, U stays at the base.
            Assert.Equal(CellCentre(32), Decoded(maps, f).Keypoints[0].Y, 3);
            Assert.Equal(CellCentre(32), Decoded(maps, f, BlobOptions with { OrientByBrightness = false }, brightAbove).Keypoints[0].Y, 3);
            Assert.Equal(CellCentre(32), Decoded(maps, f, brightness: Brightening(0)).Keypoints[0].Y, 3);
            Assert.Equal(CellCentre(32), Decoded(maps, f, brightness: Brightening(0.01f)).Keypoints[0].Y, 3);
        }
        // Brighter below, the upright loops are searched again towards the bottom, find no confident U there and stay.
        Assert.Equal(A.Keypoints[0].Y, Decoded(maps, A, brightness: Brightening(0.01f)).Keypoints[0].Y, 3);
    }
}
