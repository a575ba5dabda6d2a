namespace NfcPipeline.Core.Options;

/// <summary>When an image is too poor to count, and when its quality is only limited.</summary>
public sealed record GradingOptions
{
    public static GradingOptions Default { get; } = new();

    /// <summary>Ungradable when at least this share of the instances falls in the Ungradable category (blur).</summary>
    public double MaxUngradableShare { get; init; } = 0.5;

    /// <summary>Ungradable when fewer loops (normal or abnormal) than this reach <see cref="ConfidentInstanceScore"/>.</summary>
    public int MinConfidentInstances { get; init; } = 1;

    /// <summary>
    /// The detection score from which an instance counts as confident. The default fits the reference model, whose
    /// dense score (centre peak × mean capillary probability) runs about 0.3–0.45 on clear fields; tune it per model.
    /// </summary>
    public double ConfidentInstanceScore { get; init; } = 0.25;

    /// <summary>A gradable image whose distal row holds fewer capillaries than this has limited quality.</summary>
    public int MinDistalForGoodQuality { get; init; } = 3;

    /// <summary>A gradable image where this share or more of the instances is blurred has limited quality.</summary>
    public double LimitedUngradableShare { get; init; } = 0.25;

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (!(MaxUngradableShare is > 0 and <= 1)) problems.Add($"MaxUngradableShare must be in (0, 1], got {MaxUngradableShare}.");
        if (MinConfidentInstances < 0) problems.Add($"MinConfidentInstances must be non-negative, got {MinConfidentInstances}.");
        if (!(ConfidentInstanceScore is >= 0 and <= 1)) problems.Add($"ConfidentInstanceScore must be in [0, 1], got {ConfidentInstanceScore}.");
        if (MinDistalForGoodQuality < 0) problems.Add($"MinDistalForGoodQuality must be non-negative, got {MinDistalForGoodQuality}.");
        if (!(LimitedUngradableShare is > 0 and <= 1)) problems.Add($"LimitedUngradableShare must be in (0, 1], got {LimitedUngradableShare}.");
        // Above the ungradable share, every image it would mark limited is ungradable already: the note could never show.
        else if (MaxUngradableShare is > 0 and <= 1 && LimitedUngradableShare >= MaxUngradableShare)
            problems.Add($"LimitedUngradableShare ({LimitedUngradableShare}) must be below MaxUngradableShare ({MaxUngradableShare}): " +
                "a field that blurred is ungradable, not of limited quality.");
        return problems;
    }
}
