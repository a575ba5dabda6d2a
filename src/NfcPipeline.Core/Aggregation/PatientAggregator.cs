using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Aggregation;

/// <summary>One finger's summary; fingers are named by the study (for example "R2" … "L5").</summary>
public sealed record FingerSummary(string Finger, GroupSummary Summary);

/// <summary>A patient's report: per finger, overall, and the fast-track pattern with its rule trace.</summary>
public sealed record PatientReport(string PatientId, IReadOnlyList<FingerSummary> Fingers, GroupSummary Overall, FastTrackResult FastTrack);

/// <summary>
/// Builds patient reports from field results. Pure and order-independent, so running it again for the same fields
/// gives the same report (aggregation is idempotent).
/// </summary>
public sealed class PatientAggregator
{
    private readonly FastTrackClassifier _fastTrack;
    private readonly bool _giantRequiresNormalShape;

    /// <param name="giantRequiresNormalShape">The measurement's MeasurementOptions.GiantRequiresNormalShape: which loops could be giant.</param>
    public PatientAggregator(FastTrackOptions? fastTrack = null, bool giantRequiresNormalShape = true) =>
        (_fastTrack, _giantRequiresNormalShape) = (new FastTrackClassifier(fastTrack), giantRequiresNormalShape);

    public PatientAggregator(AnalysisOptions options) : this(options.FastTrack, options.Measurement.GiantRequiresNormalShape) { }

    /// <summary>
    /// The patient density is the mean over all gradable fields of all fingers, each field weighing the same, so a
    /// finger with more fields counts more, as when a reader averages the fields read.
    /// </summary>
    public PatientReport Aggregate(string patientId, IEnumerable<FieldResult> fields)
    {
        var ordered = fields.OrderBy(f => f.Finger, StringComparer.Ordinal).ThenBy(f => f.FieldId, StringComparer.Ordinal).ToList();
        var duplicate = ordered.GroupBy(f => f.FieldId, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        // Said without the field's path or the patient's code, which name patients and are logged with the fault.
        if (duplicate is not null) throw new ArgumentException($"A field appears {duplicate.Count()} times among one patient's fields.", nameof(fields));

        var fingers = ordered.GroupBy(f => f.Finger, StringComparer.Ordinal)
            .Select(g => new FingerSummary(g.Key, GroupSummary.Of(g.ToList(), _giantRequiresNormalShape))).ToArray();
        var overall = GroupSummary.Of(ordered, _giantRequiresNormalShape);
        return new PatientReport(patientId, fingers, overall, _fastTrack.Classify(FastTrackInputs.From(overall, fingers)));
    }
}
