namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>
/// Ratios from rounds measured side by side: raw, pipeline, raw, pipeline, …, raw. Each pipeline round is divided by
/// the mean of the raw rounds on either side of it, so a drift of the host's speed cancels, and the median over the
/// rounds ignores a round that a burst of outside load hit.
/// </summary>
internal sealed class PairedRounds
{
    private readonly List<double> _raw = [];
    private readonly List<double> _pipeline = [];

    public void AddRaw(double imagesPerSecond)
    {
        if (_raw.Count != _pipeline.Count) throw new InvalidOperationException("a raw round must follow a pipeline round");
        _raw.Add(imagesPerSecond);
    }

    public void AddPipeline(double imagesPerSecond)
    {
        if (_raw.Count != _pipeline.Count + 1) throw new InvalidOperationException("a pipeline round needs a raw round before it");
        _pipeline.Add(imagesPerSecond);
    }

    /// <summary>Per pipeline round that has a raw round after it: pipeline ÷ the mean of its two neighbours.</summary>
    public IReadOnlyList<double> Ratios =>
        Enumerable.Range(0, Math.Min(_pipeline.Count, _raw.Count - 1)).Select(i => _pipeline[i] / ((_raw[i] + _raw[i + 1]) / 2)).ToList();

    public double MedianRatio => Median(Ratios);
    public double MeanRaw => _raw.Count == 0 ? double.NaN : _raw.Average();
    public double MeanPipeline => _pipeline.Count == 0 ? double.NaN : _pipeline.Average();

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
