namespace NfcPipeline.Core.Aggregation;

/// <summary>
/// Descriptive statistics of a sample. SD is the sample SD (n − 1), null when n &lt; 2. Percentiles use linear
/// interpolation between order statistics (Hyndman–Fan type 7, the default of R, NumPy and Excel's PERCENTILE.INC).
/// Every value is null when the sample is empty.
/// </summary>
public sealed record Summary(int N, double? Mean, double? Sd, double? Median, double? P10, double? P90, double? Min, double? Max)
{
    public static Summary Empty { get; } = new(0, null, null, null, null, null, null, null);

    public static Summary Of(IEnumerable<double> values)
    {
        double[] sorted = values.Where(double.IsFinite).Order().ToArray();
        if (sorted.Length == 0) return Empty;
        return new Summary(sorted.Length, sorted.Average(), SampleSd(sorted), Percentile(sorted, 0.5),
            Percentile(sorted, 0.10), Percentile(sorted, 0.90), sorted[0], sorted[^1]);
    }

    public static double? SampleSd(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return null;
        double mean = values.Average();
        double sumSquares = values.Sum(v => (v - mean) * (v - mean));
        return Math.Sqrt(sumSquares / (values.Count - 1));
    }

    /// <summary>Type-7 percentile of an ascending sample: x[h] interpolated at h = (n − 1)·p.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0) throw new ArgumentException("The sample is empty.", nameof(sorted));
        if (!(p is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "p must be in [0, 1].");
        double h = (sorted.Count - 1) * p;
        int lower = (int)Math.Floor(h);
        if (lower >= sorted.Count - 1) return sorted[^1];
        return sorted[lower] + (h - lower) * (sorted[lower + 1] - sorted[lower]);
    }
}
