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

    /// <summary>
    /// Whether <paramref name="finger"/> is one of the ten fingers as intake writes them (L1..L5, R1..R5). A folder name
    /// intake could not read ("L2 repeat", "index") is kept for the reports but is no finger of its own: it could be
    /// one already counted.
    /// </summary>
    public static bool IsNamedFinger(string finger) =>
        finger.Length == 2 && finger[0] is 'L' or 'R' && finger[1] is >= '1' and <= '5';
}

/// <summary>A field that could not be graded, and why, so reports can say what was left out.</summary>
public sealed record ExcludedField(string FieldId, string Finger, UngradableReason? Reason, string Explanation);
