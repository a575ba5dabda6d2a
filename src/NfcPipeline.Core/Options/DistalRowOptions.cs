namespace NfcPipeline.Core.Options;

/// <summary>How the distal (outermost) row of apices is found. Lengths scale with the loops, so pixel size does not matter.</summary>
public sealed record DistalRowOptions
{
    public static DistalRowOptions Default { get; } = new();

    /// <summary>An apex leaves the distal row when another apex lies more distal than this fraction of the median loop height.</summary>
    public double BandFractionOfLoopHeight { get; init; } = 0.5;

    /// <summary>The band in µm when no loop height could be measured in the image.</summary>
    public double FallbackBandUm { get; init; } = 100;

    /// <summary>Only apices within this fraction of the median loop width sideways (along the row) can hide one another.</summary>
    public double LateralWindowFractionOfLoopWidth { get; init; } = 1.0;

    /// <summary>The lateral window in µm when no loop width could be measured.</summary>
    public double FallbackLateralWindowUm { get; init; } = 80;

    /// <summary>An apex further behind the row's median level than this fraction of the median loop height is not distal.</summary>
    public double MaxBehindRowFractionOfLoopHeight { get; init; } = 1.0;

    /// <summary>That distance in µm when no loop height could be measured.</summary>
    public double FallbackMaxBehindRowUm { get; init; } = 200;

    /// <summary>
    /// Apices split into rows where consecutive depths differ by more than this fraction of the median loop height.
    /// Rows of the nailfold lie about one loop height apart; apices of one row scatter far less than that.
    /// </summary>
    public double RowGapFractionOfLoopHeight { get; init; } = 0.4;

    /// <summary>The row gap is never smaller than this (µm), also when loop heights are missing or implausibly short.</summary>
    public double MinRowGapUm { get; init; } = 60;

    /// <summary>The distal row is the front-most row holding at least this share of the largest row's loops (0 takes the front row, however small).</summary>
    public double MinRowShareOfLargest { get; init; } = 0.3;

    /// <summary>With at least this many distal apices, the row's direction is refined by a line fit through them.</summary>
    public int MinApicesForLineFit { get; init; } = 3;

    /// <summary>The line fit is used only when the apices spread along the row at least this many times more than across it (standard deviations).</summary>
    public double MinRowElongation { get; init; } = 3;

    /// <summary>The line fit may turn the axis from the limbs' direction by at most this many degrees.</summary>
    public double MaxFitDeviationDegrees { get; init; } = 45;

    /// <summary>Whether blurred (Ungradable-category) loops count in the row: they are loops, only their shape is unreadable.</summary>
    public bool CountBlurredInstances { get; init; } = true;

    /// <summary>
    /// A row line shorter than this (mm, clipped to the field) gives no density: a loop or two near a corner of a tilted
    /// image would otherwise read as a dense row (one loop over 0.1 mm is 10/mm) and weigh in the patient's mean like a
    /// full field. 0 keeps every line.
    /// </summary>
    public double MinRowLengthMm { get; init; } = 0.5;

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        Positive(nameof(BandFractionOfLoopHeight), BandFractionOfLoopHeight);
        Positive(nameof(FallbackBandUm), FallbackBandUm);
        Positive(nameof(LateralWindowFractionOfLoopWidth), LateralWindowFractionOfLoopWidth);
        Positive(nameof(FallbackLateralWindowUm), FallbackLateralWindowUm);
        Positive(nameof(MaxBehindRowFractionOfLoopHeight), MaxBehindRowFractionOfLoopHeight);
        Positive(nameof(FallbackMaxBehindRowUm), FallbackMaxBehindRowUm);
        Positive(nameof(RowGapFractionOfLoopHeight), RowGapFractionOfLoopHeight);
        Positive(nameof(MinRowGapUm), MinRowGapUm);
        if (!(MinRowShareOfLargest is >= 0 and <= 1)) problems.Add($"MinRowShareOfLargest must be in [0, 1], got {MinRowShareOfLargest}.");
        if (MinApicesForLineFit < 2) problems.Add($"MinApicesForLineFit must be at least 2, got {MinApicesForLineFit}.");
        if (!(MinRowElongation >= 1 && double.IsFinite(MinRowElongation))) problems.Add($"MinRowElongation must be a finite number of at least 1, got {MinRowElongation}.");
        if (!(MinRowLengthMm >= 0 && double.IsFinite(MinRowLengthMm))) problems.Add($"MinRowLengthMm must be a non-negative finite number, got {MinRowLengthMm}.");
        if (!(MaxFitDeviationDegrees is >= 0 and <= 90)) problems.Add($"MaxFitDeviationDegrees must be in [0, 90], got {MaxFitDeviationDegrees}.");
        return problems;

        // Infinity passes "> 0", and a band or gap of ∞ (or ∞ × 0 = NaN) silently turns its rule off.
        void Positive(string name, double value)
        {
            if (!(value > 0 && double.IsFinite(value))) problems.Add($"{name} must be a positive finite number, got {value}.");
        }
    }
}
