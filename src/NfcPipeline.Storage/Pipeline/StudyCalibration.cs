namespace NfcPipeline.Storage.Pipeline;

/// <summary>Where a study's calibration came from, as SQL over its studies row.</summary>
public static class StudyCalibration
{
    /// <summary>
    /// Whether a study's calibration was given with a submission (the API's or nfc enqueue's umPerPx): it is set and is
    /// not study.json's (studies.um_per_px is the submission's, else the manifest's). One equal to study.json's reads
    /// as the manifest's, which is then followed when study.json changes.
    /// </summary>
    public static string GivenSql(string studies = "studies") =>
        $"({studies}.um_per_px is not null and {studies}.um_per_px is distinct from {ManifestSql(studies)})";

    /// <summary>The calibration the study's stored study.json gives (studies.manifest), or null.</summary>
    public static string ManifestSql(string studies = "studies") =>
        $"(case when jsonb_typeof({studies}.manifest -> 'um_per_px') = 'number' then ({studies}.manifest ->> 'um_per_px')::float8 end)";
}
