using NfcPipeline.Core.Measurements;

namespace NfcPipeline.Core.Aggregation;

/// <summary>
/// One field (image) of a finger as aggregation sees it. <see cref="Measurement"/> is null for a field that was
/// expected but has no result (a corrupt file, a failed job): it is counted as missing and otherwise left out.
/// </summary>
public sealed record FieldResult(string FieldId, string Finger, ImageMeasurement? Measurement, string? FailureReason = null)
{
    /// <summary>The finger of a field whose study does not name it (a patient/field layout); it counts as no finger.</summary>
    public const string UnknownFinger = "unknown";
}

/// <summary>A field that could not be graded, and why, so reports can say what was left out.</summary>
public sealed record ExcludedField(string FieldId, string Finger, UngradableReason? Reason, string Explanation);
