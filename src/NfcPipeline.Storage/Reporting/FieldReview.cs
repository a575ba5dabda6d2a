using Dapper;
using NfcPipeline.Core.Domain;
using NfcPipeline.Storage.Pipeline;
using Npgsql;

namespace NfcPipeline.Storage.Reporting;

/// <summary>
/// What excluding or including a field did; NoResult: a failed field, which has no result to leave out; ContentChanged:
/// the field's file is no longer the content the reviewer saw (replaced and registered again since).
/// </summary>
public enum FieldReviewOutcome { Changed, Unchanged, NotFound, NoResult, ContentChanged }

/// <summary>
/// The outcome, with the field's patient (to aggregate again when changed), its study and its path as shown
/// (patient folder named by its code).
/// </summary>
public sealed record FieldReviewResult(FieldReviewOutcome Outcome, long PatientId = 0, string StudyExternalId = "", string ShownPath = "");

/// <summary>
/// A reviewer's exclusion of a field from its patient's results, and its reversal (the dashboard and `nfc exclude-field`).
/// The image keeps its own result; aggregation counts it ungradable with the reason (migration 0029). Each change is
/// recorded in audit_log. The caller asks a worker to aggregate the patient again (ReaggregatePatient).
/// </summary>
public sealed class FieldReview(NpgsqlDataSource dataSource)
{
    public const int MaxReasonLength = 500;

    /// <summary>Why a failed field cannot be excluded.</summary>
    public const string NoResultReason = "it failed, so it has no result to leave out: it already counts among the patient's failed fields";

    /// <summary>Why a reason cannot be recorded, or null.</summary>
    public static string? ReasonProblem(string? reason) =>
        string.IsNullOrWhiteSpace(reason) ? "Give a reason for the exclusion; it is shown with the field and in the reports."
        : reason.Trim().Length > MaxReasonLength ? $"The reason is longer than {MaxReasonLength} characters."
        : PrintableText.HasUnprintable(reason) ? "The reason may not hold control characters (line breaks, tabs), line separators, bidirectional overrides or invisible characters."
        // Zero-width and format characters alone pass the checks above and show as nothing beside the field.
        : !reason.Any(char.IsLetterOrDigit) ? "The reason must say something: at least one letter or digit."
        : null;

    /// <summary>Why a field's content changed under a review, for its callers' answers.</summary>
    public const string ContentChangedReason = "its file was replaced since it was shown (and registered again): reload it and review what it shows now";

    /// <summary>
    /// The images of a study shown under <paramref name="shownPath"/> (the reports' and v_image_results' rel_path): one,
    /// none, or more where a study submitted as a list of images holds one file name twice under a patient and finger.
    /// </summary>
    public async Task<IReadOnlyList<long>> FindAsync(string studyExternalId, string shownPath, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<long>(new CommandDefinition("""
            select i.id from images i join studies s on s.id = i.study_id join patients p on p.id = i.patient_id
            where s.external_id = @studyExternalId
              and shown_image_path(p.code, i.finger, i.rel_path, s.source_path is not null) = @shownPath
            order by i.id
            """, new { studyExternalId, shownPath }, cancellationToken: ct))).ToList();
    }

    /// <summary>Why <paramref name="matches"/> of <see cref="FindAsync"/> do not name one field, or null when they do.</summary>
    public static string? LookupProblem(IReadOnlyList<long> matches, string studyExternalId, string shownPath) => matches.Count switch
    {
        0 => $"study '{studyExternalId}' has no field '{shownPath}' (the study's results.csv and v_image_results list its fields)",
        1 => null,
        _ => $"'{shownPath}' names {matches.Count} fields of study '{studyExternalId}' (images listed from different folders under one " +
             $"patient, finger and file name); exclude it on the dashboard's patient page, which names each by its image id",
    };

    /// <summary>
    /// Excludes the field with <paramref name="reason"/>; a field already excluded gets the new reason. With
    /// <paramref name="shownSha256"/> (the content the reviewer saw), a field whose content is another is left as it is.
    /// </summary>
    public Task<FieldReviewResult> ExcludeAsync(long imageId, string reason, string actor, CancellationToken ct = default, byte[]? shownSha256 = null)
    {
        if (ReasonProblem(reason) is { } problem) throw new ArgumentException(problem, nameof(reason));
        return ChangeAsync(imageId, reason.Trim(), actor, shownSha256, ct);
    }

    /// <summary>Takes the field back into its patient's results.</summary>
    public Task<FieldReviewResult> IncludeAsync(long imageId, string actor, CancellationToken ct = default) => ChangeAsync(imageId, null, actor, null, ct);

    private async Task<FieldReviewResult> ChangeAsync(long imageId, string? reason, string actor, byte[]? shownSha256, CancellationToken ct)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // The study's lock, as registration and aggregation take it: neither sees the exclusion half made.
        var studyId = await c.ExecuteScalarAsync<long?>(new CommandDefinition("select study_id from images where id = @imageId",
            new { imageId }, tx, cancellationToken: ct));
        if (studyId is null) return new(FieldReviewOutcome.NotFound);
        await StudyLock.ByStudyAsync(c, tx, studyId.Value, ct);
        var field = await c.QuerySingleOrDefaultAsync<(long PatientId, string Study, string Shown, string? Current, string State, byte[] Sha256)?>(new CommandDefinition("""
            select i.patient_id, s.external_id, shown_image_path(p.code, i.finger, i.rel_path, s.source_path is not null), i.qc_exclusion, i.state, i.sha256
            from images i join studies s on s.id = i.study_id join patients p on p.id = i.patient_id
            where i.id = @imageId for update of i
            """, new { imageId }, tx, cancellationToken: ct));
        if (field is not { } f) return new(FieldReviewOutcome.NotFound);
        // It already counts among the failed fields; an exclusion would be shown and change nothing.
        if (reason is not null && f.State == "failed") return new(FieldReviewOutcome.NoResult, f.PatientId, f.Study, f.Shown);
        // A reason written for what the page showed must not land on other pixels: the file replaced and resubmitted keeps its row.
        if (shownSha256 is not null && !shownSha256.AsSpan().SequenceEqual(f.Sha256))
            return new(FieldReviewOutcome.ContentChanged, f.PatientId, f.Study, f.Shown);
        if (f.Current == reason) return new(FieldReviewOutcome.Unchanged, f.PatientId, f.Study, f.Shown);
        // Stamped after the study's lock (clock_timestamp, not the transaction's start), as an aggregation stamps what it
        // saw: of the two, whichever took the lock later has the later time, so review_pending compares them truly.
        await c.ExecuteAsync(new CommandDefinition("""
            update images set qc_exclusion = @reason, qc_excluded_by = case when @reason is null then null else @actor end,
                              qc_excluded_at = case when @reason is null then null else clock_timestamp() end, qc_changed_at = clock_timestamp()
            where id = @imageId
            """, new { imageId, reason, actor }, tx, cancellationToken: ct));
        await AuditLog.RecordAsync(c, tx, actor, reason is null ? AuditLog.IncludeField : AuditLog.ExcludeField, f.Study,
            new { image_id = imageId, field = f.Shown, sha256 = Convert.ToHexStringLower(f.Sha256), reason, previous_reason = f.Current }, ct);
        await tx.CommitAsync(ct);
        return new(FieldReviewOutcome.Changed, f.PatientId, f.Study, f.Shown);
    }
}
