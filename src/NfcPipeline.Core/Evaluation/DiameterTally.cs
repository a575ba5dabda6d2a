namespace NfcPipeline.Core.Evaluation;

/// <summary>
/// One population's diameters: |pred − truth| over its matched pairs, and each side's values over its own instances
/// (for the error of means).
/// </summary>
internal sealed class DiameterTally
{
    public static readonly string[] Names = ["apical", "arterial", "venous"];

    private readonly List<double>[] _errorsPx = New(), _errorsUm = New();
    private readonly List<double>[] _truthPx = New(), _truthUm = New(), _predictedPx = New(), _predictedUm = New();

    public void AddTruth((double?[] Px, double?[] Um) d) => Collect(d, _truthPx, _truthUm);

    public void AddPrediction((double?[] Px, double?[] Um) d) => Collect(d, _predictedPx, _predictedUm);

    /// <summary>A pair that also enters both means, each diameter only where both sides have it: the error of means over pairs.</summary>
    public void AddPairAndMeans((double?[] Px, double?[] Um) truth, (double?[] Px, double?[] Um) predicted)
    {
        AddPair(truth, predicted);
        AddTruth(WhereBoth(truth, predicted));
        AddPrediction(WhereBoth(predicted, truth));
    }

    private static (double?[] Px, double?[] Um) WhereBoth((double?[] Px, double?[] Um) side, (double?[] Px, double?[] Um) other) =>
        (side.Px.Select((v, k) => other.Px[k] is null ? null : v).ToArray(), side.Um.Select((v, k) => other.Um[k] is null ? null : v).ToArray());

    public void AddPair((double?[] Px, double?[] Um) truth, (double?[] Px, double?[] Um) predicted)
    {
        for (int k = 0; k < Names.Length; k++)
        {
            if (truth.Px[k] is { } a && predicted.Px[k] is { } b) _errorsPx[k].Add(Math.Abs(b - a));
            if (truth.Um[k] is { } x && predicted.Um[k] is { } y) _errorsUm[k].Add(Math.Abs(y - x));
        }
    }

    public IReadOnlyList<DiameterMetrics> Metrics() => Names.Select((name, k) => new DiameterMetrics(name, _errorsPx[k].Count,
        MeanOrNull(_errorsPx[k]), MeanOrNull(_errorsUm[k]), _truthPx[k].Count, _predictedPx[k].Count,
        AbsDifference(MeanOrNull(_predictedPx[k]), MeanOrNull(_truthPx[k])),
        AbsDifference(MeanOrNull(_predictedUm[k]), MeanOrNull(_truthUm[k])))).ToArray();

    private static List<double>[] New() => Names.Select(_ => new List<double>()).ToArray();

    private static void Collect((double?[] Px, double?[] Um) d, List<double>[] px, List<double>[] um)
    {
        for (int k = 0; k < d.Px.Length; k++)
        {
            if (d.Px[k] is { } p) px[k].Add(p);
            if (d.Um[k] is { } u) um[k].Add(u);
        }
    }

    private static double? MeanOrNull(List<double> values) => values.Count == 0 ? null : values.Average();

    private static double? AbsDifference(double? a, double? b) => a is { } x && b is { } y ? Math.Abs(x - y) : null;
}
