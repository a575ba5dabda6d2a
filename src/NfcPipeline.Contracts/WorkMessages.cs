namespace NfcPipeline.Contracts;

/// <summary>
/// A chunk of a study's images to analyse: one row of <c>jobs</c> (kind analyze_chunk) whose payload is
/// <c>{"image_ids": [...], "reanalyze": bool}</c>. Requeueing a job publishes this again with the same JobId.
/// </summary>
public sealed record AnalyzeImages
{
    public required long JobId { get; init; }
    public required long StudyDbId { get; init; }
    public required IReadOnlyList<long> ImageIds { get; init; }
    public bool Reanalyze { get; init; }

    /// <summary>
    /// The job's <c>enqueued_at</c> (the database's clock) when this message was published: a fault of this message
    /// fails the job only while the job is still queued as it was then, not after a requeue. Null from older senders.
    /// </summary>
    public DateTime? QueuedAt { get; init; }
}

/// <summary>Asks the share watchers to scan now instead of at their next interval.</summary>
public sealed record ScanShareNow(string? RequestedBy);

/// <summary>
/// Asks a worker to aggregate a patient again from its stored results, as after a field is excluded or included at
/// review (the dashboard, `nfc exclude-field`). A patient still being analysed is aggregated when its last image is done.
/// </summary>
public sealed record ReaggregatePatient(long PatientDbId, string? RequestedBy);
