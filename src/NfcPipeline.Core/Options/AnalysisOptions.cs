namespace NfcPipeline.Core.Options;

/// <summary>All measurement and aggregation policy in one record, as configuration holds it and results record it.</summary>
public sealed record AnalysisOptions
{
    public static AnalysisOptions Default { get; } = new();

    public MeasurementOptions Measurement { get; init; } = MeasurementOptions.Default;
    public DistalRowOptions DistalRow { get; init; } = DistalRowOptions.Default;
    public GradingOptions Grading { get; init; } = GradingOptions.Default;
    public FastTrackOptions FastTrack { get; init; } = FastTrackOptions.Default;

    /// <summary>Every problem in every part, prefixed with the part's name; empty when all are usable.</summary>
    public IReadOnlyList<string> Validate() =>
    [
        .. Measurement.Validate().Select(p => $"Measurement: {p}"),
        .. DistalRow.Validate().Select(p => $"DistalRow: {p}"),
        .. Grading.Validate().Select(p => $"Grading: {p}"),
        .. FastTrack.Validate().Select(p => $"FastTrack: {p}"),
    ];

    /// <summary>Validates the options and checks that every class name of a model maps to a clinical category.</summary>
    public void ValidateFor(IEnumerable<string> modelClassNames)
    {
        var problems = Validate();
        if (problems.Count > 0) throw new ArgumentException("Invalid analysis options: " + string.Join(" ", problems));
        Measurement.Categories.Validate(modelClassNames);
    }
}
