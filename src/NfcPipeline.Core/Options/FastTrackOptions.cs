namespace NfcPipeline.Core.Options;

/// <summary>
/// Thresholds of the EULAR fast-track algorithm (Smith et al., Ann Rheum Dis 2020) and of the early / active / late
/// scleroderma sub-patterns after Cutolo et al. (J Rheumatol 2000).
/// </summary>
public sealed record FastTrackOptions
{
    public static FastTrackOptions Default { get; } = new();

    /// <summary>Non-scleroderma needs a density of at least this (capillaries per mm).</summary>
    public double NonSclerodermaMinDensityPerMm { get; init; } = 7;

    /// <summary>Scleroderma by loss needs a density of at most this, together with abnormal shapes.</summary>
    public double SclerodermaMaxDensityPerMm { get; init; } = 3;

    /// <summary>Giants are "present" from this many.</summary>
    public int GiantsPresentMinCount { get; init; } = 1;

    /// <summary>Abnormal shapes are "present" from this many.</summary>
    public int AbnormalShapesPresentMinCount { get; init; } = 1;

    /// <summary>Late: density at most this (severe loss).</summary>
    public double LateMaxDensityPerMm { get; init; } = 3;

    /// <summary>Active: giants form at least this share of the loops (frequent giants).</summary>
    public double ActiveMinGiantShare { get; init; } = 0.10;

    /// <summary>Active: hemorrhages number at least this share of the loops (frequent hemorrhages).</summary>
    public double ActiveMinHemorrhageShare { get; init; } = 0.10;

    /// <summary>Early: density at least this (preserved); below it the loss is at least moderate.</summary>
    public double EarlyMinDensityPerMm { get; init; } = 6;

    /// <summary>
    /// The density decides a rule only when it comes from at least this many fields (a gradable field with a distal
    /// row); one field is too little nailfold to call a patient normal or to call severe loss.
    /// </summary>
    public int MinDensityFields { get; init; } = 2;

    /// <summary>… and from at least this many fingers, so that one finger's local finding does not stand for the patient.</summary>
    public int MinDensityFingers { get; init; } = 2;

    /// <summary>
    /// "No giants" (rules 1 and 3) needs the giant flag known (the apex measured) for at least this share of the loops:
    /// none measured of five is no evidence that none is giant. 0 takes the giants seen, however few apices were measured.
    /// </summary>
    public double MinGiantKnownShare { get; init; } = 0.25;

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        // A negative or infinite density threshold would switch its rule off (or on) without a word.
        foreach (var (name, value) in new[] { (nameof(NonSclerodermaMinDensityPerMm), NonSclerodermaMinDensityPerMm),
                     (nameof(SclerodermaMaxDensityPerMm), SclerodermaMaxDensityPerMm), (nameof(LateMaxDensityPerMm), LateMaxDensityPerMm),
                     (nameof(EarlyMinDensityPerMm), EarlyMinDensityPerMm) })
            if (!(double.IsFinite(value) && value >= 0)) problems.Add($"{name} must be a finite density of 0 or more per mm, got {value}.");
        if (!(SclerodermaMaxDensityPerMm < NonSclerodermaMinDensityPerMm))
            problems.Add($"SclerodermaMaxDensityPerMm ({SclerodermaMaxDensityPerMm}) must be below NonSclerodermaMinDensityPerMm ({NonSclerodermaMinDensityPerMm}).");
        if (GiantsPresentMinCount < 1) problems.Add($"GiantsPresentMinCount must be at least 1, got {GiantsPresentMinCount}.");
        if (AbnormalShapesPresentMinCount < 1) problems.Add($"AbnormalShapesPresentMinCount must be at least 1, got {AbnormalShapesPresentMinCount}.");
        if (!(LateMaxDensityPerMm < EarlyMinDensityPerMm))
            problems.Add($"LateMaxDensityPerMm ({LateMaxDensityPerMm}) must be below EarlyMinDensityPerMm ({EarlyMinDensityPerMm}).");
        if (!(ActiveMinGiantShare is > 0 and <= 1)) problems.Add($"ActiveMinGiantShare must be in (0, 1], got {ActiveMinGiantShare}.");
        if (MinDensityFields < 1) problems.Add($"MinDensityFields must be at least 1, got {MinDensityFields}.");
        if (MinDensityFingers < 1) problems.Add($"MinDensityFingers must be at least 1, got {MinDensityFingers}.");
        if (MinDensityFingers > MinDensityFields)
            problems.Add($"MinDensityFingers ({MinDensityFingers}) cannot exceed MinDensityFields ({MinDensityFields}): each finger gives at least one field.");
        if (!(ActiveMinHemorrhageShare is > 0 and <= 1)) problems.Add($"ActiveMinHemorrhageShare must be in (0, 1], got {ActiveMinHemorrhageShare}.");
        if (!(MinGiantKnownShare is >= 0 and <= 1)) problems.Add($"MinGiantKnownShare must be in [0, 1], got {MinGiantKnownShare}.");
        return problems;
    }
}
