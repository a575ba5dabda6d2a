using NfcPipeline.Core.Evaluation;

namespace NfcPipeline.Core.Tests.Evaluation;

public class DensityTruthTests
{
    [Fact]
    public void Reads_capillaries_per_mm_by_file_name()
    {
        var truth = DensityTruthCsv.Parse("image,capillaries_per_mm\r\nA/img1.png,8.5\r\n\"img2.png\",10\r\n");
        Assert.Equal(8.5, truth["img1.png"]);
        Assert.Equal(10, truth["IMG2.PNG"]);
    }

    [Fact]
    public void Counts_need_the_field_length()
    {
        Assert.Equal(4.5, DensityTruthCsv.Parse("image,count\nimg1.png,9", fieldMm: 2)["img1.png"]);
        Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("image,count\nimg1.png,9"));
        Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("image,capillaries_per_mm\nimg1.png,many"));
        Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("picture,count\nimg1.png,9", fieldMm: 1));
    }

    [Fact]
    public void Mae_and_pearson_from_density_pairs()
    {
        var metrics = DensityMetrics.Of([new("a", 8, 7), new("b", 10, 11), new("c", 6, 6)]);
        Assert.Equal(2.0 / 3, metrics.Mae!.Value, 12);
        Assert.Equal(10 / Math.Sqrt(8 * 14), metrics.Pearson!.Value, 12);
        Assert.Null(DensityMetrics.PearsonR([1, 1, 1], [2, 3, 4]));
    }
}
