using NfcPipeline.Core.Evaluation;

namespace NfcPipeline.Core.Tests.Evaluation;

public class DensityTruthTests
{
    [Fact]
    public void Reads_capillaries_per_mm_by_file_name()
    {
        var truth = DensityTruthCsv.Parse("image,capillaries_per_mm\r\nA/img1.png,8.5\r\n\"img2.png\",10\r\n");
        Assert.Equal(8.5, truth["A/img1.png"]);
        Assert.Equal(10, truth["IMG2.PNG"]);
    }

    [Fact]
    public void Quoted_cells_may_hold_commas_and_quotes_and_a_negative_value_is_refused()
    {
        // Split on every comma, "P01/a,b.png" was two cells and its density the name's second half.
        var truth = DensityTruthCsv.Parse("image,capillaries_per_mm\n\"P01/a,b.png\",7.5\n\"say \"\"hi\"\".png\" , 6\n plain.png , 5 \n");
        Assert.Equal(7.5, truth["P01/a,b.png"]);
        Assert.Equal(6, truth["say \"hi\".png"]);
        Assert.Equal(5, truth["plain.png"]);
        Assert.Contains("is below 0", Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("image,capillaries_per_mm\na.png,-2")).Message);
        Assert.Contains("is not closed", Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("image,capillaries_per_mm\n\"a.png,2")).Message);
    }

    [Fact]
    public void Counts_need_the_field_length()
    {
        Assert.Equal(4.5, DensityTruthCsv.Parse("image,count\nimg1.png,9", fieldMm: 2)["img1.png"]);
        Assert.Throws<ArgumentException>(() => DensityTruthCsv.Parse("image,count\nimg1.png,9"));
        Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("image,capillaries_per_mm\nimg1.png,many"));
        Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("picture,count\nimg1.png,9", fieldMm: 1));
        // A field length beside densities would be ignored, and a header alone is no truth.
        Assert.Contains("needs none", Assert.Throws<ArgumentException>(() => DensityTruthCsv.Parse("image,capillaries_per_mm\nimg1.png,9", fieldMm: 1)).Message);
        Assert.Contains("no images", Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("image,count\n", fieldMm: 1)).Message);
        // A huge count over a short field overflowed to infinity, which the JSON report could not write after the whole run.
        Assert.Contains("too large a density", Assert.Throws<FormatException>(() => DensityTruthCsv.Parse("image,count\nimg1.png,1e308", fieldMm: 0.5)).Message);
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

public class ImageKeyMatchingTests
{
    private static readonly Dictionary<string, int> ByKey = new(StringComparer.OrdinalIgnoreCase)
    {
        ["P001/L2/field1.jpg"] = 1, ["P002/L2/field1.jpg"] = 2, ["study/P003/R4/f9.png"] = 3,
    };

    [Theory]
    [InlineData("P001/L2/field1.jpg", 1)]
    [InlineData("./P002\\L2\\field1.jpg", 2)]
    [InlineData("P003/R4/f9.png", 3)]
    [InlineData("root/study/P003/R4/f9.png", 3)]
    public void Images_match_by_relative_path_or_a_unique_folder_suffix(string image, int expected)
    {
        Assert.True(NfcPipeline.Core.Evaluation.DensityTruthCsv.TryFind(ByKey, image, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("field1.jpg")]          // two patients have a field1.jpg: ambiguous, never guessed
    [InlineData("1.jpg")]               // not at a folder boundary
    [InlineData("P009/L2/field1.jpg")]
    public void Ambiguous_or_partial_names_do_not_match(string image) =>
        Assert.False(NfcPipeline.Core.Evaluation.DensityTruthCsv.TryFind(ByKey, image, out _));
}
