using System.Globalization;
using NfcPipeline.Core.Domain;

namespace NfcPipeline.Core.Aggregation;

/// <summary>The three outcomes of the EULAR fast-track algorithm.</summary>
public enum FastTrackPattern
{
    NonScleroderma,
    Scleroderma,
    /// <summary>Too little to call: no density the rules may use (none gradable, or too few fields or fingers) and no
    /// giants. A density both rules pass over is non-scleroderma by rule 3, not this.</summary>
    Indeterminate,
}

/// <summary>Cutolo's scleroderma patterns.</summary>
public enum SclerodermaSubPattern { Early, Active, Late }

/// <summary>
/// One comparison of a measured quantity with its threshold. A null value never holds, nor does a value set aside
/// (<see cref="NotUsedBecause"/>: a density from too few fields).
/// </summary>
public sealed record FastTrackCondition(string Quantity, double? Value, string Comparison, double Threshold, bool Holds, string? NotUsedBecause = null)
{
    public string Text => (Value, NotUsedBecause) switch
    {
        ({ } v, { } why) => $"{Quantity} = {Format(v)} not used, {why}; cannot check {Comparison} {Format(Threshold)}: no",
        ({ } v, null) => $"{Quantity} = {ThresholdText.Apart(v, Threshold)} {Comparison} {Format(Threshold)}: {(Holds ? "yes" : "no")}",
        _ => $"{Quantity} unknown, cannot check {Comparison} {Format(Threshold)}: no",
    };

    internal static FastTrackCondition Check(string quantity, double? value, string comparison, double threshold)
    {
        bool holds = value is { } v && comparison switch
        {
            ">=" => v >= threshold,
            "<=" => v <= threshold,
            "<" => v < threshold,
            ">" => v > threshold,
            _ => throw new ArgumentOutOfRangeException(nameof(comparison), comparison, "Unknown comparison."),
        };
        return new FastTrackCondition(quantity, value, comparison, threshold, holds);
    }

    internal static FastTrackCondition NotUsed(string quantity, double value, string comparison, double threshold, string why) =>
        new(quantity, value, comparison, threshold, false, why);

    private static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>One rule of the decision, whether it held, and the comparisons behind it.</summary>
public sealed record FastTrackTraceEntry(string Rule, bool RequiresAll, IReadOnlyList<FastTrackCondition> Conditions, bool Holds, string Text);

/// <summary>The fast-track outcome with its full rule trace, in the order the rules were checked.</summary>
public sealed record FastTrackResult(
    FastTrackPattern Pattern,
    SclerodermaSubPattern? SubPattern,
    FastTrackInputs Inputs,
    IReadOnlyList<FastTrackTraceEntry> Trace,
    string Summary);

/// <summary>
/// The patient-level numbers the fast-track reads. <see cref="DensityFieldCount"/> and <see cref="DensityFingerCount"/>
/// say how much nailfold the density comes from: the fields that have one, and the named fingers those lie on (null
/// when none of them names its finger: then it cannot be told). <see cref="GiantUnknownCount"/> loops could not be
/// called giant or not (apex unmeasured); the giant share is over the others. <see cref="GiantCandidateCount"/> loops
/// could be giant at all (normal-shaped; null: every loop), whose measured share says whether "no giants" is known.
/// </summary>
public sealed record FastTrackInputs(double? DensityPerMm, int LoopCount, int GiantCount, int AbnormalCount, int HemorrhageCount,
    int DensityFieldCount, int? DensityFingerCount, int GiantUnknownCount = 0, int? GiantCandidateCount = null)
{
    /// <summary>Loops whose giant flag is known.</summary>
    public int GiantKnownCount => LoopCount - GiantUnknownCount;

    /// <summary>Of the loops that could be giant, those whose giant flag is known (the apex measured).</summary>
    public int GiantCandidatesKnown => Math.Max(0, (GiantCandidateCount ?? LoopCount) - GiantUnknownCount);

    /// <summary>Giants over the loops whose giant flag is known: an unmeasured apex is neither.</summary>
    public double? GiantShare => GiantKnownCount <= 0 ? null : (double)GiantCount / GiantKnownCount;
    public double? HemorrhageShare => LoopCount == 0 ? null : (double)HemorrhageCount / LoopCount;

    public static FastTrackInputs From(GroupSummary overall, IEnumerable<FingerSummary> fingers) =>
        new(overall.DensityPerMm.Mean, overall.LoopCount, overall.GiantCount, overall.AbnormalCount, overall.HemorrhageCount,
            overall.DensityPerMm.N, KnownFingersWithDensity(fingers), overall.GiantUnknownCount, overall.GiantCandidateCount);

    private static int? KnownFingersWithDensity(IEnumerable<FingerSummary> fingers)
    {
        var withDensity = fingers.Where(f => f.Summary.DensityPerMm.N > 0).ToList();
        int known = withDensity.Count(f => FieldResult.IsNamedFinger(f.Finger));
        return known == 0 && withDensity.Count > 0 ? null : known;
    }
}
