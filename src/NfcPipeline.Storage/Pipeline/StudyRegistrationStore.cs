using System.Text;
using Dapper;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <param name="Unread">The file could not be read this time for a cause that may pass (an I/O error, a permission, a
/// lease held): <paramref name="Sha256"/> is a stand-in and <paramref name="SizeBytes"/> its size by stat (-1 unknown),
/// and a path registered before at that size (or of unknown size) keeps its row as it was.</param>
/// <param name="FileStamp">What says the file is unchanged without reading it (Intake.FileStamps); null where unknown.</param>
/// <param name="HashKept">Its hash and header were kept from the last registration, the file unread (its stamp unchanged).</param>
public sealed record ImageRegistration(string Patient, string? Finger, string Field, string RelativePath, byte[] Sha256, long SizeBytes, int? Width,
    int? Height, string? Format, bool Unread = false, string? FileStamp = null, bool HashKept = false);

/// <param name="SkippedEntries">Entries of the folder not analysed (files not named as images, links out of the share, deeper folders).</param>
/// <param name="UmPerPxGiven">Whether <paramref name="UmPerPx"/> came with the submission (not from study.json).</param>
public sealed record StudyRegistration(string ExternalId, string? SourcePath, double? UmPerPx, string? Device, string ManifestJson,
    IReadOnlyList<ImageRegistration> Images, int SkippedEntries = 0, bool UmPerPxGiven = false)
{
    /// <summary>Files not read again: their stamp unchanged since the last registration.</summary>
    public int UnchangedFiles => Images.Count(i => i.HashKept);
}

/// <summary>
/// A registered study, the images that now need analysis (the rest are done, in progress, or reused) and the chunk jobs
/// created for them in the same transaction (to publish after the commit). <see cref="Redelivered"/>: the submission was
/// registered before (a redelivery of its message), so nothing was registered or queued again.
/// </summary>
public sealed record RegisteredStudy(long StudyId, int PatientCount, int ImageCount, IReadOnlyList<long> ImagesToAnalyse, int ReusedImages,
    IReadOnlyList<ChunkJob> Chunks)
{
    public bool Redelivered { get; init; }

    /// <summary>The model the study is analysed with (studies.model_id); null before a first registration set one.</summary>
    public long? ModelId { get; init; }

    /// <summary>A calibration given with an earlier submission, kept over this one's study.json or default (it gave none).</summary>
    public double? KeptCalibration { get; init; }

    /// <summary>StudySubmitted, stored with the registration and claimed by its caller to publish; null for a redelivery.</summary>
    public PendingEvent? Announcement { get; init; }
}

/// <summary>
/// Registers studies idempotently: by external id, patient code and image path, with content hashes deciding what is new.
/// Results are keyed by (image sha256, model, µm/px), so a re-submitted study reuses them and queues only what has none
/// at its calibration (a corrected calibration changes every length); images.result_um_per_px points at the result used.
/// </summary>
public sealed class StudyRegistrationStore(NpgsqlDataSource db)
{
    /// <param name="umPerPx">The calibration its images will be analysed at: the study's, else the worker's default.</param>
    /// <param name="chunkSize">Images per chunk job. The jobs are created under the study's lock, so a second submission
    /// waiting on it finds them in flight instead of queueing the same images again.</param>
    /// <param name="settingsJson">The registering worker's settings (ModelHost.SettingsJson): a stored result is reused
    /// only when it was measured with the same analysis and decoder settings.</param>
    /// <param name="submissionId">The submission's message id: one the study was registered from before is a
    /// redelivery, not registered again (study_submissions, migration 0030).</param>
    /// <param name="registeredFolderGone">Asked, when the study is registered from another share folder and at least half
    /// of its images (by content) are among this submission's, whether that folder has left the share: then it was
    /// renamed or moved, and this submission's folder takes the study over.</param>
    public async Task<RegisteredStudy> RegisterAsync(StudyRegistration study, long modelId, double umPerPx, bool reanalyze, int chunkSize,
        string settingsJson, CancellationToken ct, Guid? submissionId = null, Func<string, bool>? registeredFolderGone = null)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // Two submissions of one study at once would race on its rows; the second waits and then finds them.
        await StudyLock.ByExternalIdAsync(connection, tx, study.ExternalId, ct);

        // One id, one folder: another folder under a registered id (a copied study.json, a reused id) would replace
        // that study's patients and images.
        var registered = (await connection.QueryAsync<(long Id, string? SourcePath, double? UmPerPx, double? AnalysisUmPerPx, bool Redelivered,
            bool UmPerPxGiven, double? ManifestUmPerPx)>(
            new CommandDefinition($"""
                select id, source_path, um_per_px, analysis_um_per_px,
                       exists (select 1 from study_submissions u where u.study_id = studies.id and u.message_id = @SubmissionId),
                       {StudyCalibration.GivenSql()}, {StudyCalibration.ManifestSql()}
                from studies where external_id = @ExternalId
                """, new { study.ExternalId, SubmissionId = submissionId }, tx, cancellationToken: ct))).ToList();
        if (registered.Count > 0 && StudyIdentity.Conflict(study.ExternalId, registered[0].SourcePath, study.SourcePath) is { } conflict
            && !(registered[0].SourcePath is { } from && study.SourcePath is not null && registeredFolderGone is not null
                 && await SameContentAsync(connection, tx, registered[0].Id, study.Images, ct) && registeredFolderGone(from)))
            throw new StudyConflictException(conflict);
        if (registered.Count > 0 && registered[0].Redelivered) return await EarlierAsync(connection, tx, registered[0].Id, ct);
        // A calibration given with a submission (the API, nfc enqueue --um-per-px) holds until another is given, or
        // study.json's own changes: the share watcher's resubmission (an image added) gives none, and took study.json's
        // or the default again, analysing every image again at the scale the operator had corrected.
        double? kept = null;
        if (!study.UmPerPxGiven && registered.Count > 0 && registered[0].UmPerPxGiven && registered[0].UmPerPx is { } given
            && registered[0].ManifestUmPerPx == study.UmPerPx)
            (study, umPerPx, kept) = (study with { UmPerPx = given, UmPerPxGiven = true }, given, given);
        // One id, one spelling: "Zürich-01" copied from Windows and again from a Mac differ only in Unicode form, and
        // would be two studies whose ids look alike. normalize() needs a UTF-8 database, and is planned with the id
        // folded in, so the encoding is asked first; other databases are not checked.
        if (registered.Count == 0)
        {
            await StudyLock.ByIdFormAsync(connection, tx, study.ExternalId, ct);
            if (await StudyIdentity.LookalikeAsync(connection, tx, study.ExternalId, ct) is { } lookalike)
                throw new StudyConflictException(StudyIdentity.LookalikeConflict(study.ExternalId, lookalike));
        }
        // One folder, one id: a study_id corrected in study.json, or a second name for the folder (a link to it), would
        // register the same images as a second study beside the first.
        if (study.SourcePath is { } folder)
        {
            await StudyLock.BySourcePathAsync(connection, tx, folder, ct);
            var holder = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(StudyIdentity.OtherStudyOfFolderSql,
                new { SourcePath = folder, study.ExternalId }, tx, cancellationToken: ct));
            if (holder is not null) throw new StudyConflictException(StudyIdentity.FolderConflict(folder, holder, study.ExternalId));
        }
        // Chunks in flight analyse at the calibration they loaded: after a change (or for a reanalysis) their images are
        // queued again, and the old chunks' writes skip them (ResultStore). The scale compared is the one analysed at:
        // the study's own, else the default it was registered at (none recorded before migration 0028), so a calibration
        // removed from study.json that equalled the default changes nothing.
        bool recalibrated = registered.Count > 0 && ((registered[0].UmPerPx ?? registered[0].AnalysisUmPerPx) is { } analysedAt
            ? analysedAt != umPerPx   // exactly, as a chunk's write compares what it loaded
            : registered[0].UmPerPx != study.UmPerPx);
        bool restart = reanalyze || recalibrated;

        long studyId = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            insert into studies (external_id, source_path, um_per_px, analysis_um_per_px, device, manifest, image_count, state, model_id)
            values (@ExternalId, @SourcePath, @UmPerPx, @AnalysisUmPerPx, @Device, @Manifest::jsonb, @Count, 'processing', @ModelId)
            on conflict (external_id) do update set
                source_path = excluded.source_path, um_per_px = excluded.um_per_px, analysis_um_per_px = excluded.analysis_um_per_px,
                device = excluded.device,
                manifest = excluded.manifest, image_count = excluded.image_count, model_id = excluded.model_id,
                state = 'processing', updated_at = now(), registered_at = now(), completed_at = null
            returning id
            """, new { study.ExternalId, study.SourcePath, study.UmPerPx, AnalysisUmPerPx = umPerPx, study.Device, Manifest = study.ManifestJson,
                Count = study.Images.Count, ModelId = modelId },
            tx, cancellationToken: ct));

        if (submissionId is not null)
            await connection.ExecuteAsync(new CommandDefinition(
                "insert into study_submissions (study_id, message_id) values (@StudyId, @SubmissionId) on conflict do nothing",
                new { StudyId = studyId, SubmissionId = submissionId }, tx, cancellationToken: ct));

        var codes = study.Images.Select(i => i.Patient).Distinct(StringComparer.Ordinal).ToArray();
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into patients (study_id, code) select @StudyId, unnest(@Codes)
            on conflict (study_id, code) do update set state = 'processing', completed_at = null
            """, new { StudyId = studyId, Codes = codes }, tx, cancellationToken: ct));

        var imageSetsBefore = await ImageSetsAsync(connection, tx, studyId, ct);
        var contentBefore = (await connection.QueryAsync<(string Path, byte[] Sha, long Size, int? Width, int? Height, string? Format)>(new CommandDefinition(
            "select rel_path, sha256, size_bytes, width, height, format from images where study_id = @StudyId",
            new { StudyId = studyId }, tx, cancellationToken: ct))).ToDictionary(r => r.Path, StringComparer.Ordinal);
        var images = KeepUnread(study.Images, contentBefore);
        var excludedBefore = await ExcludedFieldsAsync(connection, tx, studyId, ct);
        // The rows whose content leaves its path (the file removed, moved, or another file now at that path), excluded
        // or not, numbered within their content by path: kept aside, because the upsert below clears an exclusion where
        // the content at its path changed, and paired one to one with the paths that content moves to.
        await connection.ExecuteAsync(new CommandDefinition("""
            create temp table displaced_exclusions on commit drop as
            select o.sha256, o.qc_exclusion, o.qc_excluded_by, o.qc_excluded_at, o.qc_changed_at,
                   row_number() over (partition by o.sha256 order by o.rel_path) as k
            from images o left join unnest(@Paths, @Shas) as x(rel_path, sha256) on x.rel_path = o.rel_path
            where o.study_id = @StudyId and (x.rel_path is null or x.sha256 <> o.sha256)
            """, new { StudyId = studyId, Paths = images.Select(i => i.RelativePath).ToArray(), Shas = images.Select(i => i.Sha256).ToArray() },
            tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into images (study_id, patient_id, finger, field, rel_path, sha256, size_bytes, width, height, format, file_stamp)
            select @StudyId, p.id, x.finger, x.field, x.rel_path, x.sha256, x.size_bytes, x.width, x.height, x.format, x.stamp
            from unnest(@Patients, @Fingers, @Fields, @Paths, @Shas, @Sizes, @Widths, @Heights, @Formats, @Stamps)
                 as x(patient, finger, field, rel_path, sha256, size_bytes, width, height, format, stamp)
            join patients p on p.study_id = @StudyId and p.code = x.patient
            on conflict (study_id, rel_path) do update set
                patient_id = excluded.patient_id, finger = excluded.finger, field = excluded.field,
                size_bytes = excluded.size_bytes, width = excluded.width, height = excluded.height, format = excluded.format,
                file_stamp = excluded.file_stamp,
                state = case when images.sha256 = excluded.sha256 then images.state else 'pending' end,
                -- a reviewer's exclusion is of the content they saw
                qc_exclusion = case when images.sha256 = excluded.sha256 then images.qc_exclusion end,
                qc_excluded_by = case when images.sha256 = excluded.sha256 then images.qc_excluded_by end,
                qc_excluded_at = case when images.sha256 = excluded.sha256 then images.qc_excluded_at end,
                qc_changed_at = case when images.sha256 = excluded.sha256 then images.qc_changed_at end,
                sha256 = excluded.sha256,
                updated_at = case when images.sha256 = excluded.sha256 then images.updated_at else now() end
            """, new
            {
                StudyId = studyId,
                Patients = images.Select(i => i.Patient).ToArray(), Fingers = images.Select(i => i.Finger).ToArray(),
                Fields = images.Select(i => i.Field).ToArray(), Paths = images.Select(i => i.RelativePath).ToArray(),
                Shas = images.Select(i => i.Sha256).ToArray(), Sizes = images.Select(i => i.SizeBytes).ToArray(),
                Widths = images.Select(i => i.Width).ToArray(), Heights = images.Select(i => i.Height).ToArray(),
                Formats = images.Select(i => i.Format).ToArray(), Stamps = images.Select(i => i.FileStamp).ToArray(),
            }, tx, cancellationToken: ct));
        // A reviewer's exclusion follows its content to a new path (a patient or finger folder renamed, say, to take a
        // name out of it, or two fields swapped) rather than going with the old row; only to a path whose content is new
        // in this registration (an unreviewed copy that stayed must not inherit its removed twin's "read twice"), and one
        // to one: of two moved twins, only the excluded one's new path takes the exclusion.
        await connection.ExecuteAsync(new CommandDefinition("""
            update images n set qc_exclusion = d.qc_exclusion, qc_excluded_by = d.qc_excluded_by, qc_excluded_at = d.qc_excluded_at,
                                qc_changed_at = d.qc_changed_at
            from (select i.id, i.sha256, row_number() over (partition by i.sha256 order by i.rel_path) as k
                  from images i where i.study_id = @StudyId and i.rel_path = any(@NewContent)) t
            join displaced_exclusions d on d.sha256 = t.sha256 and d.k = t.k
            where n.id = t.id and d.qc_excluded_at is not null and n.qc_changed_at is null
            """, new
            {
                StudyId = studyId,
                NewContent = images.Where(i => !contentBefore.TryGetValue(i.RelativePath, out var r) || !r.Sha.AsSpan().SequenceEqual(i.Sha256))
                    .Select(i => i.RelativePath).ToArray(),
            }, tx, cancellationToken: ct));
        // Files gone from the folder leave the study; their results stay, keyed by content.
        await connection.ExecuteAsync(new CommandDefinition(
            "delete from images where study_id = @StudyId and not (rel_path = any(@Paths))",
            new { StudyId = studyId, Paths = images.Select(i => i.RelativePath).ToArray() }, tx, cancellationToken: ct));
        // After the images, whose exclusions above may come from a patient folder now gone.
        await connection.ExecuteAsync(new CommandDefinition("""
            delete from patients where study_id = @StudyId and not (code = any(@Codes))
            """, new { StudyId = studyId, Codes = codes }, tx, cancellationToken: ct));
        await RecordExclusionChangesAsync(connection, tx, study.ExternalId, excludedBefore, await ExcludedFieldsAsync(connection, tx, studyId, ct), ct);
        // Another model's patient results describe the images and calibration they were computed from: where those
        // changed they describe nothing in the study now (and exports listed them beside this model's). Its image
        // results stay, keyed by content, so analysing with that model again rebuilds them.
        var imageSetsAfter = await ImageSetsAsync(connection, tx, studyId, ct);
        var changedPatients = imageSetsAfter.Where(p => recalibrated || imageSetsBefore.GetValueOrDefault(p.Key) != p.Value).Select(p => p.Key).ToArray();
        if (changedPatients.Length > 0)
            await connection.ExecuteAsync(new CommandDefinition(
                "delete from patient_metrics where patient_id = any(@Patients) and model_id <> @ModelId",
                new { Patients = changedPatients, ModelId = modelId }, tx, cancellationToken: ct));

        // Leave work in flight alone (images in a live chunk: a running reanalysis must not be undone by a stored older
        // result); reuse results for this model at this calibration; queue the rest (new, changed, failed, or stranded
        // queued by a chunk that was deleted or never created).
        var transitions = (await connection.QueryAsync<(long Id, string State, string OldState, bool InFlight)>(new CommandDefinition($"""
            with old as (
                -- In flight: owned by a live chunk (images.chunk_job_id, one indexed lookup each; matching every image
                -- against every live chunk's list was quadratic in a large study with its chunks queued).
                select i.id, i.state, i.sha256,
                       exists (select 1 from jobs j where j.id = i.chunk_job_id and j.kind = 'analyze_chunk'
                                                      and j.state in ('enqueued', 'processing', 'retrying')) as in_flight
                from images i where i.study_id = @StudyId for update of i)
            update images i set
                state = case
                    when kept.yes then old.state
                    when stored.um is not null then 'succeeded'
                    else 'queued' end,
                result_um_per_px = case when kept.yes then i.result_um_per_px else stored.um end,
                error = null, error_code = null,
                -- Stamped when a worker's outcome is due: a reused result, or an image left to its chunk, is no image
                -- finished now (the overview's images/s).
                updated_at = case when kept.yes or stored.um is not null then i.updated_at else now() end
            from old
            cross join lateral (select not @Restart and old.state in ('queued', 'processing') and old.in_flight as yes) kept
            left join lateral (select r.um_per_px as um from image_metrics r
                               where not @Reanalyze and r.image_sha256 = old.sha256 and r.model_id = @ModelId
                                 and abs(r.um_per_px - @UmPerPx) <= 1e-9 * @UmPerPx and {ResultStore.SameMeasurementSettings}
                               order by abs(r.um_per_px - @UmPerPx), r.analysed_at desc limit 1) stored on true
            where i.id = old.id
            returning i.id, i.state, old.state, old.in_flight
            """, new { StudyId = studyId, ModelId = modelId, UmPerPx = umPerPx, Reanalyze = reanalyze, Restart = restart, Settings = settingsJson },
            tx, cancellationToken: ct))).ToList();

        var toAnalyse = transitions.Where(t => t.State == "queued" && (restart || !(t.OldState is "queued" or "processing" && t.InFlight)))
            .Select(t => t.Id).Order().ToList();
        int reused = transitions.Count(t => t.State == "succeeded" && t.OldState != "succeeded");
        var chunks = await JobStore.InsertChunksAsync(connection, tx, studyId, toAnalyse, chunkSize, reanalyze, ct);
        // With the registration, as its chunks are: a broker that does not take it now gets it from the outbox later.
        var announcement = await CompletionEventStore.InsertAsync(connection, tx, studyId,
            new Contracts.StudySubmitted(study.ExternalId, studyId, codes.Length, images.Count, DateTimeOffset.UtcNow), ct);
        await tx.CommitAsync(ct);
        return new RegisteredStudy(studyId, codes.Length, images.Count, toAnalyse, reused, chunks)
            { ModelId = modelId, Announcement = announcement, KeptCalibration = kept };
    }

    private readonly record struct ExcludedField(long Id, string Shown, string Sha256, string Reason);

    /// <summary>The study's excluded fields, by their shown paths (patient folders named by their codes, as the audit names fields).</summary>
    private static async Task<IReadOnlyList<ExcludedField>> ExcludedFieldsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long studyId,
        CancellationToken ct) =>
        (await connection.QueryAsync<(long Id, string Shown, string Sha, string Reason)>(new CommandDefinition("""
            select i.id, shown_image_path(p.code, i.finger, i.rel_path, s.source_path is not null), encode(i.sha256, 'hex'), i.qc_exclusion
            from images i join patients p on p.id = i.patient_id join studies s on s.id = i.study_id
            where i.study_id = @StudyId and i.qc_exclusion is not null
            order by i.rel_path
            """, new { StudyId = studyId }, tx, cancellationToken: ct))).Select(r => new ExcludedField(r.Id, r.Shown, r.Sha, r.Reason)).ToList();

    /// <summary>
    /// What the registration did to reviewers' exclusions, in the audit log as a review's own changes are: one that followed
    /// its content to another path (a folder renamed), and one cleared because its content changed or left the study.
    /// </summary>
    private static async Task RecordExclusionChangesAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string studyExternalId,
        IReadOnlyList<ExcludedField> before, IReadOnlyList<ExcludedField> after, CancellationToken ct)
    {
        const string actor = "registration";
        // By row: a row that kept its content and exclusion is no change, whatever its shown path (a patient code the
        // patients map changed); the rest pair as the carry-over pairs them, by content in path order.
        var kept = before.Where(b => after.Any(a => a.Id == b.Id && a.Sha256 == b.Sha256 && a.Reason == b.Reason)).Select(b => b.Id).ToHashSet();
        var gone = before.Where(b => !kept.Contains(b.Id)).ToList();
        var arrived = after.Where(a => !kept.Contains(a.Id)).ToList();
        foreach (var moved in arrived)
        {
            var from = gone.FirstOrDefault(g => g.Sha256 == moved.Sha256 && g.Reason == moved.Reason);
            if (from == default) continue;
            gone.Remove(from);
            await Reporting.AuditLog.RecordAsync(connection, tx, actor, Reporting.AuditLog.ExcludeField, studyExternalId,
                new { field = moved.Shown, sha256 = moved.Sha256, reason = moved.Reason, moved_from = from.Shown }, ct);
        }
        foreach (var cleared in gone)
            await Reporting.AuditLog.RecordAsync(connection, tx, actor, Reporting.AuditLog.IncludeField, studyExternalId,
                new { field = cleared.Shown, sha256 = cleared.Sha256, reason = (string?)null, previous_reason = cleared.Reason,
                      why = "its content changed, or left the study, when the study was registered again" }, ct);
    }

    /// <summary>
    /// The study a submission with this message id and study id was registered as, or null: asked before a delivery reads
    /// the study's files, so a redelivery neither hashes them again nor registers anything (RegisterAsync checks again,
    /// under the lock). The study id counts too: a sender reusing a message id for another study submits that study.
    /// </summary>
    public async Task<RegisteredStudy?> EarlierRegistrationAsync(Guid submissionId, string externalId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var studyId = await connection.ExecuteScalarAsync<long?>(new CommandDefinition("""
            select u.study_id from study_submissions u join studies s on s.id = u.study_id
            where u.message_id = @submissionId and s.external_id = @externalId limit 1
            """, new { submissionId, externalId }, cancellationToken: ct));
        return studyId is { } id ? await EarlierAsync(connection, null, id, ct) : null;
    }

    /// <summary>
    /// The files study <paramref name="externalId"/> was last registered from, with their times (<see cref="KnownFiles"/>);
    /// <see cref="KnownFiles.None"/> for a study not registered. Read without the study's lock: a registration compares
    /// each file's size and time itself, and the folder's fingerprint is taken around the read.
    /// </summary>
    public async Task<KnownFiles> KnownFilesAsync(string externalId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        // Not a failed image's: "analyse the failed images again" reads them (one failed as changed since registration
        // would otherwise keep failing under its old hash).
        var rows = (await connection.QueryAsync<(string? SourcePath, string? Path, byte[]? Sha, long Size, string? Stamp, int? Width, int? Height, string? Format)>(
            new CommandDefinition("""
                select s.source_path, i.rel_path, i.sha256, coalesce(i.size_bytes, 0), i.file_stamp, i.width, i.height, i.format
                from studies s left join images i on i.study_id = s.id and i.file_stamp is not null and i.state <> 'failed'
                where s.external_id = @externalId
                """, new { externalId }, cancellationToken: ct))).ToList();
        if (rows.Count == 0) return KnownFiles.None;
        return new KnownFiles(rows[0].SourcePath, rows.Where(r => r is { Path: not null, Sha: not null, Stamp: not null })
            .ToDictionary(r => r.Path!, r => new KnownFile(r.Sha!, r.Size, r.Stamp!, r.Width, r.Height, r.Format), StringComparer.Ordinal));
    }

    /// <summary>
    /// A registered file unreadable for a moment keeps its row, where its size is still the registered one: its stand-in
    /// hash would have cleared its exclusion, set it pending and, once readable again, failed it for good as changed
    /// since registration. A file of another size is new content: its stand-in stands, and it fails with its reason.
    /// One whose size is unknown (stat failed too: the file gone for a moment) keeps its row.
    /// </summary>
    private static IReadOnlyList<ImageRegistration> KeepUnread(IReadOnlyList<ImageRegistration> images, Dictionary<string, (string Path, byte[] Sha, long Size, int? Width, int? Height, string? Format)> registered) =>
        images.Select(i => !i.Unread ? i
            : registered.TryGetValue(i.RelativePath, out var r) && (i.SizeBytes < 0 || r.Size == i.SizeBytes)
                ? i with { Sha256 = r.Sha, SizeBytes = r.Size, Width = r.Width, Height = r.Height, Format = r.Format }
                : i with { SizeBytes = Math.Max(0, i.SizeBytes) }).ToList();

    private static async Task<RegisteredStudy> EarlierAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, long studyId, CancellationToken ct)
    {
        var (patientCount, imageCount, modelId) = await connection.QuerySingleAsync<(int, int, long?)>(new CommandDefinition("""
            select (select count(*) from patients where study_id = @studyId)::int, (select count(*) from images where study_id = @studyId)::int,
                   (select model_id from studies where id = @studyId)
            """, new { studyId }, tx, cancellationToken: ct));
        return new RegisteredStudy(studyId, patientCount, imageCount, [], 0, []) { Redelivered = true, ModelId = modelId };
    }

    /// <summary>
    /// Whether at least half of a registered study's images (by content) are among <paramref name="images"/>: the same
    /// study moved, not another one that reuses its id after its folder was deleted.
    /// </summary>
    private static async Task<bool> SameContentAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long studyId,
        IReadOnlyList<ImageRegistration> images, CancellationToken ct)
    {
        // Files unreadable for now count neither way: their stand-in hashes match nothing.
        var (kept, total) = await connection.QuerySingleAsync<(long Kept, long Total)>(new CommandDefinition("""
            select count(*) filter (where sha256 = any(@Shas) and not (rel_path = any(@Unread))), count(*) filter (where not (rel_path = any(@Unread)))
            from images where study_id = @StudyId
            """, new { StudyId = studyId, Shas = images.Where(i => !i.Unread).Select(i => i.Sha256).ToArray(),
                Unread = images.Where(i => i.Unread).Select(i => i.RelativePath).ToArray() }, tx, cancellationToken: ct));
        return kept > 0 && kept * 2 >= total;
    }

    /// <summary>Each patient's images (paths and contents) as one digest, to see whose set a registration changed.</summary>
    private static async Task<Dictionary<long, string>> ImageSetsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long studyId, CancellationToken ct) =>
        (await connection.QueryAsync<(long PatientId, string Digest)>(new CommandDefinition("""
            select patient_id, md5(string_agg(rel_path || ' ' || encode(sha256, 'hex'), '/' order by rel_path))
            from images where study_id = @StudyId group by patient_id
            """, new { StudyId = studyId }, tx, cancellationToken: ct))).ToDictionary(r => r.PatientId, r => r.Digest);
}

/// <summary>A submission under a study id that another folder (or image list) already holds; never retried.</summary>
public sealed class StudyConflictException(string message) : Exception(message);
