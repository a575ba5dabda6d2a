using NfcPipeline.Core.Evaluation;

namespace NfcPipeline.Core.Tests.Evaluation;

public class RleAndPolygonTests
{
    [Fact]
    public void Compressed_rle_string_decodes_including_negative_deltas()
    {
        // Hand-encoded: 0 → "0"; 40 → "X1"; 60 → "l1"; the 4th run is coded as 2 − 40 = −38 → "jN".
        Assert.Equal([0u, 40u, 60u, 2u], CocoRleCodec.DecodeString("0X1l1jN"));
        Assert.Equal("0X1l1jN", CocoRleCodec.EncodeString([0u, 40u, 60u, 2u]));
        Assert.Equal("532", CocoRleCodec.EncodeString([5u, 3u, 2u]));
    }

    [Fact]
    public void Rle_counts_run_down_the_columns()
    {
        // 3 rows × 2 columns; column-major runs: 1 background, 2 foreground, 3 background.
        var bits = CocoRleCodec.ToBits(new CocoRle(3, 2, [1, 2, 3]));
        Assert.Equal([false, false, true, false, true, false], bits);
    }

    [Fact]
    public void Rle_round_trips_through_bits_and_text()
    {
        var random = new Random(7);
        var bits = Enumerable.Range(0, 48 * 37).Select(_ => random.NextDouble() < 0.3).ToArray();
        var rle = CocoRleCodec.FromBits(bits, 37, 48);
        var decoded = CocoRleCodec.DecodeString(CocoRleCodec.EncodeString(rle.Counts));
        Assert.Equal(rle.Counts, decoded);
        Assert.Equal(bits, CocoRleCodec.ToBits(rle with { Counts = decoded }));
    }

    [Fact]
    public void Rle_whose_runs_do_not_fill_the_image_is_refused() =>
        Assert.Throws<FormatException>(() => CocoRleCodec.ToBits(new CocoRle(3, 2, [1, 2])));

    [Fact]
    public void Axis_aligned_rectangle_covers_its_area_exactly()
    {
        var bits = PolygonRasterizer.Rasterize([[10, 10, 30, 10, 30, 40, 10, 40]], 1024, 768);
        Assert.Equal(600, bits.Count(b => b));
        Assert.True(bits[10 * 1024 + 10]);
        Assert.False(bits[40 * 1024 + 10]);
        Assert.False(bits[10 * 1024 + 30]);
    }

    [Fact]
    public void Triangle_takes_the_pixels_whose_centres_are_inside()
    {
        // x + y ≤ 10: row y holds pixel centres x + 0.5 < 9.5 − y, that is 9 − y pixels: 45 in all (true area 50).
        var bits = PolygonRasterizer.Rasterize([[0, 0, 10, 0, 0, 10]], 64, 64);
        Assert.Equal(45, bits.Count(b => b));
    }

    [Fact]
    public void Several_polygons_unite_and_the_frame_clips()
    {
        double[][] polygons = [[0, 0, 10, 0, 10, 10, 0, 10], [5, 5, 15, 5, 15, 15, 5, 15], [60, 60, 80, 60, 80, 80, 60, 80]];
        var bits = PolygonRasterizer.Rasterize(polygons, 64, 64);
        Assert.Equal(100 + 100 - 25 + 16, bits.Count(b => b));
    }
}
