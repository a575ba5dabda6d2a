namespace NfcPipeline.Contracts;

/// <summary>
/// Asks the pipeline to analyse a study: either a folder under the watched share, or an explicit list of image
/// paths under the share. Paths are relative to the share root; absolute paths and '..' are refused.
/// </summary>
public sealed record SubmitStudy
{
    /// <summary>Caller's id for the study; re-submitting the same id and content reuses existing results.</summary>
    public required string StudyId { get; init; }

    /// <summary>A study folder relative to the share root, in the patient/finger/field layout.</summary>
    public string? FolderPath { get; init; }

    /// <summary>Alternatively, image paths relative to the share root, each with its patient and finger.</summary>
    public IReadOnlyList<SubmittedImage>? Images { get; init; }

    /// <summary>Calibration in µm per pixel; overrides the study manifest.</summary>
    public double? MicrometresPerPixel { get; init; }

    public string? Device { get; init; }

    /// <summary>Analyse again even when results for (image, model) exist.</summary>
    public bool Reanalyze { get; init; }

    /// <summary>
    /// Set by a share watcher: the share root as it keys its folder notes. A worker that refuses the folder notes it
    /// under this key, so the watcher finds the note though the worker reaches the share by another path.
    /// </summary>
    public string? ShareRootKey { get; init; }
}

public sealed record SubmittedImage(string Path, string Patient, string? Finger);

/// <summary>Published once a study is registered and its work is queued.</summary>
public sealed record StudySubmitted(string StudyId, long StudyDbId, int PatientCount, int ImageCount, DateTimeOffset SubmittedAt);

/// <summary>Published when a patient's last image is done and the patient's aggregation is stored.</summary>
public sealed record PatientCompleted(string StudyId, long PatientDbId, string Pattern, int FailedImages, DateTimeOffset CompletedAt);

/// <summary>Published when a study's last patient completes. State is "completed" or "completed_with_errors".</summary>
public sealed record StudyCompleted(string StudyId, long StudyDbId, string State, int SucceededImages, int FailedImages, DateTimeOffset CompletedAt);
