namespace NfcPipeline.Storage.Reporting;

// Row shapes for the dashboard, the API and the CLI. Dapper fills them by snake_case column name.

public sealed class OverviewStats
{
    public long QueueDepth { get; init; }
    public long Processing { get; init; }
    public long ImagesFinished { get; init; }
    public int WindowMinutes { get; init; }
    public long WorkersAlive { get; init; }
    public long FailuresLastHour { get; init; }
    public long StudiesActive { get; init; }
    public double ImagesPerSecond => WindowMinutes <= 0 ? 0 : ImagesFinished / (WindowMinutes * 60.0);
}

public sealed class StudyProgress
{
    public long Id { get; init; }
    public string ExternalId { get; init; } = "";
    public string State { get; init; } = "";
    public string? SourcePath { get; init; }
    public double? UmPerPx { get; init; }
    /// <summary>The µm/px its images are analysed at: its own, else the default it was registered at (migration 0028).</summary>
    public double? AnalysisUmPerPx { get; init; }
    /// <summary>The device the study was submitted with (study.json's, or the submission's).</summary>
    public string? Device { get; init; }
    /// <summary>Whether study.json gave the device (else the submission did).</summary>
    public bool DeviceFromManifest { get; init; }
    public long Images { get; init; }
    public long Succeeded { get; init; }
    public long Failed { get; init; }
    public long Remaining => Math.Max(0, Images - Succeeded - Failed);
    public double PercentDone => Percent(Succeeded + Failed, Images);

    /// <summary>
    /// Percent to one decimal, in decimal arithmetic and half away from zero, as v_study_progress's round(numeric):
    /// the API, the CLI, the dashboard and SQL show one number.
    /// </summary>
    public static double Percent(long part, long total) =>
        total <= 0 ? 0 : (double)Math.Round(100m * part / total, 1, MidpointRounding.AwayFromZero);
    public DateTime CreatedAt { get; init; }
    /// <summary>When the worker last took in a submission of it (migration 0027).</summary>
    public DateTime RegisteredAt { get; init; }
    public DateTime? CompletedAt { get; init; }
    public bool IsFinished => State is "completed" or "completed_with_errors" or "failed";
}

public sealed class PatientProgress
{
    public long Id { get; init; }
    public long StudyId { get; init; }
    public string Code { get; init; } = "";
    public string State { get; init; } = "";
    public long Images { get; init; }
    public long Succeeded { get; init; }
    public long Failed { get; init; }
    public string? Pattern { get; init; }
    public double? DensityMean { get; init; }
    /// <summary>The model of the latest patient result the pattern and density come from ("name version").</summary>
    public string? Model { get; init; }
}

public sealed class ImageRow
{
    public long Id { get; init; }
    public long StudyId { get; init; }
    public long PatientId { get; init; }
    /// <summary>The patient's code (the study's patients map's, else its folder name), as listings show it.</summary>
    public string PatientCode { get; init; } = "";
    public string? Finger { get; init; }
    public string Field { get; init; } = "";
    /// <summary>
    /// The image's path as shown: in its study folder with the patient folder named by its code (migration 0025); for a
    /// study submitted as a list of images, code/finger/file name (0026).
    /// </summary>
    public string RelPath { get; init; } = "";
    public string State { get; init; } = "";
    public string? ErrorCode { get; init; }
    public string? Error { get; init; }
    public int Attempts { get; init; }
    public byte[] Sha256 { get; init; } = [];
    public int? InstanceCount { get; init; }
    public int? DistalCount { get; init; }
    public double? DensityPerMm { get; init; }
    public bool? Gradable { get; init; }
    public string? Quality { get; init; }
    /// <summary>What the decoder and the measurement noted about the result (image_metrics.notes).</summary>
    public string[]? Notes { get; init; }
    /// <summary>A reviewer's reason for leaving the field out of its patient's results (migration 0029), and who did.</summary>
    public string? QcExclusion { get; init; }
    public string? QcExcludedBy { get; init; }
    /// <summary>The field's last exclusion or inclusion: a patient result computed before it does not show it yet.</summary>
    public DateTime? QcChangedAt { get; init; }
    /// <summary>Whether the field counts in its patient's results: graded gradable by the model and not excluded at review.</summary>
    public bool Counted => Gradable == true && QcExclusion is null;
}

public sealed class PatientHeader
{
    public long Id { get; init; }
    public string Code { get; init; } = "";
    public string State { get; init; } = "";
    public long StudyId { get; init; }
    public string StudyExternalId { get; init; } = "";
    public double? StudyUmPerPx { get; init; }
}

public sealed class PatientMetricsRow
{
    public long PatientId { get; init; }
    public long ModelId { get; init; }
    public string ModelName { get; init; } = "";
    public string? ModelVersion { get; init; }
    public string ModelSha256 { get; init; } = "";
    /// <summary>What the model's export says it was trained on (nfc.training_data), when it says.</summary>
    public string? ModelTrainingData { get; init; }
    public int GradableFields { get; init; }
    public int UngradableFields { get; init; }
    public double? DensityMean { get; init; }
    public double? DensityMedian { get; init; }
    public double? DensitySd { get; init; }
    public int CapillaryCount { get; init; }
    public int DilatedCount { get; init; }
    public int GiantCount { get; init; }
    public int AbnormalCount { get; init; }
    public int HemorrhageCount { get; init; }
    public string Pattern { get; init; } = "";
    public string RuleTrace { get; init; } = "{}";
    public string Morphology { get; init; } = "{}";
    public string Diameters { get; init; } = "{}";
    public string PerFinger { get; init; } = "{}";
    public string Settings { get; init; } = "{}";
    /// <summary>The calibration the patient's images were measured at; null when more than one (or before migration 0018).</summary>
    public double? UmPerPx { get; init; }
    /// <summary>Fields that gave no result (failed images); null for results computed before migration 0018.</summary>
    public int? FailedFields { get; init; }
    public DateTime ComputedAt { get; init; }
    /// <summary>A field was excluded or included at review after this result was computed: its figures do not show it yet.</summary>
    public bool ReviewPending { get; init; }
}

public sealed class CapillaryDiameters
{
    public double? ApicalUm { get; init; }
    public double? ArterialUm { get; init; }
    public double? VenousUm { get; init; }
}

public sealed class CapillaryShape
{
    public int InstanceIndex { get; init; }
    public string Category { get; init; } = "";
    public float[] Box { get; init; } = [];
    public int[] MaskRle { get; init; } = [];
    /// <summary>The rectangle mask_rle covers: left, top, width, height (see MaskRuns).</summary>
    public int[]? MaskRect { get; init; }
    public float[] Keypoints { get; init; } = [];
    public bool Distal { get; init; }
    public bool Dilated { get; init; }
    public bool Giant { get; init; }
}

public sealed class ImageSource
{
    public long Id { get; init; }
    public long PatientId { get; init; }
    public string? StudySourcePath { get; init; }
    public string RelPath { get; init; } = "";
    public byte[] Sha256 { get; init; } = [];
    /// <summary>The calibration the image's results are at; null until it has results.</summary>
    public double? ResultUmPerPx { get; init; }
    /// <summary>The model the study was last analysed with: an overlay's default.</summary>
    public long? StudyModelId { get; init; }
}

public sealed class JobRow
{
    public long Id { get; init; }
    public string Kind { get; init; } = "";
    public string State { get; init; } = "";
    public long? StudyId { get; init; }
    public string? Study { get; init; }
    public string Payload { get; init; } = "{}";
    public int Attempts { get; init; }
    /// <summary>jobs.max_attempts, which no limit reads (Worker:MessageRetryLimit and Worker:MaxAbandonedStarts are the limits): not shown.</summary>
    public int MaxAttempts { get; init; }
    public string? LastError { get; init; }
    public string? WorkerId { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime EnqueuedAt { get; init; }
    public DateTime? StartedAt { get; init; }
    public DateTime? FinishedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
    public TimeSpan? Duration => StartedAt is { } s && FinishedAt is { } f ? f - s : null;
}

public sealed class WorkerRow
{
    public string Id { get; init; } = "";
    public string Host { get; init; } = "";
    public int Pid { get; init; }
    public string? Device { get; init; }
    public string? Provider { get; init; }
    public byte[]? ModelSha256 { get; init; }
    public DateTime StartedAt { get; init; }
    public DateTime HeartbeatAt { get; init; }
    public long ImagesProcessed { get; init; }
    public string? LastBatch { get; init; }
    public string State { get; init; } = "";
    public bool Alive { get; init; }
}

public sealed class ShareWatchRow
{
    public string Root { get; init; } = "";
    public int IntervalSeconds { get; init; }
    public DateTime? LastScanAt { get; init; }
    public DateTime? NextScanAt { get; init; }
    public DateTime? ScanRequestedAt { get; init; }
}

public sealed class ShareFolderNoteRow
{
    public string Root { get; init; } = "";
    public string Folder { get; init; } = "";
    /// <summary>refused, no_marker, waiting or registration_refused.</summary>
    public string State { get; init; } = "";
    public string Reason { get; init; } = "";
    public DateTime FirstSeen { get; init; }
    public DateTime LastSeen { get; init; }
}

public sealed class ShareScanRow
{
    public long Id { get; init; }
    public string Root { get; init; } = "";
    public string? WorkerId { get; init; }
    public DateTime StartedAt { get; init; }
    public DateTime? FinishedAt { get; init; }
    public int FoldersSeen { get; init; }
    public int StudiesFound { get; init; }
    public string? Error { get; init; }
}

/// <summary>A page of rows with the key to ask for the next one (keyset paging on id, newest first).</summary>
public sealed record KeysetPage<T>(IReadOnlyList<T> Rows, long? NextBefore);

public sealed record JobFilter(string State, string? Kind = null, string? Study = null, long? Before = null, int Limit = 50);

/// <summary>Why a worker refused to register a submission, and when it last did (share_folder_notes).</summary>
public sealed class RegistrationRefusal
{
    public string Reason { get; init; } = "";
    public DateTime RefusedAt { get; init; }
}
