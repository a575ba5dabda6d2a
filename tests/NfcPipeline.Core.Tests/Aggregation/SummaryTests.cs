using NfcPipeline.Core.Aggregation;

namespace NfcPipeline.Core.Tests.Aggregation;

public class SummaryTests
{
    [Fact]
    public void Type7_percentiles_and_sample_sd()
    {
        var s = Summary.Of([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        Assert.Equal(10, s.N);
        Assert.Equal(5.5, s.Mean);
        Assert.Equal(5.5, s.Median);
        Assert.Equal(1.9, s.P10!.Value, 12);    // h = 0.9 → 1 + 0.9·(2 − 1)
        Assert.Equal(9.1, s.P90!.Value, 12);
        Assert.Equal(Math.Sqrt(82.5 / 9), s.Sd!.Value, 12);
        Assert.Equal(10, s.Max);
    }

    [Fact]
    public void One_value_has_no_sd_and_no_values_give_nulls()
    {
        var one = Summary.Of([12.5]);
        Assert.Null(one.Sd);
        Assert.Equal(12.5, one.P10);
        Assert.Equal(12.5, one.P90);
        Assert.Equal(Summary.Empty, Summary.Of([]));
        Assert.Equal(0, Summary.Of([double.NaN]).N);
    }
}
