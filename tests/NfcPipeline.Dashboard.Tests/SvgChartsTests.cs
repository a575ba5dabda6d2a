using System.Text.RegularExpressions;
using NfcPipeline.Dashboard.Rendering;

namespace NfcPipeline.Dashboard.Tests;

public partial class SvgChartsTests
{
    [Fact]
    public void A_large_value_widens_the_bins_instead_of_landing_in_a_mislabelled_last_bin()
    {
        // Bins of 5 µm capped at 40 put 600 µm in the bin labelled 195–200.
        var svg = SvgCharts.Histogram("h", "Apical", [10, 12, 600], 5, "µm").ToString();
        var bins = BarTitle().Matches(svg).Select(m => (From: double.Parse(m.Groups[1].Value), To: double.Parse(m.Groups[2].Value), Count: int.Parse(m.Groups[3].Value))).ToList();
        Assert.InRange(bins.Count, 1, 40);
        Assert.Contains(bins, b => b.From <= 600 && 600 < b.To && b.Count == 1);
        Assert.Contains(bins, b => b.From <= 10 && 12 < b.To && b.Count == 2);
        Assert.Equal(3, bins.Sum(b => b.Count));

        // One absurd value draws, at its place, instead of wrapping the bin count round to a single 0–5 bin.
        var huge = BarTitle().Matches(SvgCharts.Histogram("h", "Apical", [10, 1e11], 5, "µm").ToString()).ToList();
        Assert.InRange(huge.Count, 2, 40);
        Assert.Equal("1", huge[^1].Groups[3].Value);
    }

    [GeneratedRegex(@"<title>([0-9.]+)–([0-9.]+) µm: (\d+)</title>")]
    private static partial Regex BarTitle();
}
