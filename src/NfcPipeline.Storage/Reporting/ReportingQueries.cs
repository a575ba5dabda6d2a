using Dapper;
using NfcPipeline.Storage.Pipeline;
using Npgsql;

namespace NfcPipeline.Storage.Reporting;

/// <summary>
/// The read side shared by the dashboard, the HTTP API and the CLI. Every query is parameterised, bounded by a
/// limit or a single study/patient, and served by an index (migration 0010), so pages stay fast at 10⁵ images.
/// </summary>
public sealed class ReportingQueries(NpgsqlDataSource dataSource)
{
    public const int ThroughputWindowMinutes = 5;
    public static readonly TimeSpan WorkerAliveWithin = TimeSpan.FromMinutes(2);

    static ReportingQueries() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    public NpgsqlDataSource DataSource => dataSource;

    public async Task<OverviewStats> OverviewAsync(CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.QuerySingleAsync<OverviewStats>(new CommandDefinition($"""
            select (select count(*) from jobs where state in ('enqueued', 'retrying')) as queue_depth,
                   (select count(*) from jobs where state = 'processing') as processing,
                   -- Finished by a worker: images a registration reused a result for never belonged to a chunk, and those
                   -- an operator's job deletion failed were finished by no one.
                   (select count(*) from images where updated_at > now() - make_interval(mins => @window)
                                                  and state in ('succeeded', 'failed') and chunk_job_id is not null
                                                  and error_code is distinct from 'JobDeleted') as images_finished,
                   @window as window_minutes,
                   (select count(*) from workers where {WorkerStore.Alive}) as workers_alive,
                   (select count(*) from jobs where state = 'failed' and updated_at > now() - interval '1 hour') as failures_last_hour,
                   (select count(*) from studies where state in ('registered', 'processing')) as studies_active
            """, new { window = ThroughputWindowMinutes }, cancellationToken: ct));
    }

    private const string StudyProgressSelect = """
        select s.id, s.external_id, s.state, s.source_path, s.um_per_px, s.analysis_um_per_px, s.device, s.manifest ? 'device' as device_from_manifest, s.created_at, s.registered_at, s.completed_at,
               c.images, c.succeeded, c.failed
        from studies s
        cross join lateral (select count(*) as images,
                                   count(*) filter (where i.state = 'succeeded') as succeeded,
                                   count(*) filter (where i.state = 'failed') as failed
                            from images i where i.study_id = s.id) c
        """;

    public async Task<KeysetPage<StudyProgress>> StudiesAsync(string? state, long? before, int limit = 50, CancellationToken ct = default)
    {
        var sql = StudyProgressSelect + " where true"
            + (state is null ? "" : " and s.state = @state")
            + (before is null ? "" : " and s.id < @before")
            + " order by s.id desc limit @take";
        await using var c = await dataSource.OpenConnectionAsync(ct);
        var rows = (await c.QueryAsync<StudyProgress>(new CommandDefinition(sql, new { state, before, take = limit + 1 }, cancellationToken: ct))).ToList();
        return Page(rows, limit, r => r.Id);
    }

    public async Task<StudyProgress?> StudyAsync(long id, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.QuerySingleOrDefaultAsync<StudyProgress>(new CommandDefinition(StudyProgressSelect + " where s.id = @id", new { id }, cancellationToken: ct));
    }

    /// <summary>The database's clock, to compare with the times it stamps (a submission's registration).</summary>
    public async Task<DateTime> DatabaseNowAsync(CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.ExecuteScalarAsync<DateTime>(new CommandDefinition("select now()", cancellationToken: ct));
    }

    public async Task<StudyProgress?> StudyByExternalIdAsync(string externalId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.QuerySingleOrDefaultAsync<StudyProgress>(new CommandDefinition(StudyProgressSelect + " where s.external_id = @externalId", new { externalId }, cancellationToken: ct));
    }

    /// <summary>The id of a study registered from share folder <paramref name="sourcePath"/> other than <paramref name="externalId"/>, or null.</summary>
    public async Task<string?> OtherStudyOfFolderAsync(string sourcePath, string externalId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.ExecuteScalarAsync<string?>(new CommandDefinition(Pipeline.StudyIdentity.OtherStudyOfFolderSql,
            new { SourcePath = sourcePath, ExternalId = externalId }, cancellationToken: ct));
    }

    /// <summary>A registered study id that differs from <paramref name="externalId"/> only in Unicode form, or null.</summary>
    public async Task<string?> LookalikeStudyAsync(string externalId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await Pipeline.StudyIdentity.LookalikeAsync(c, null, externalId, ct);
    }

    /// <summary>
    /// Why a worker refused to register a submission of the share folder <paramref name="folder"/> (relative to the
    /// share; null: any folder) under <paramref name="studyId"/> since <paramref name="since"/>, as the share page notes
    /// it, and when it last did; null when it has not.
    /// </summary>
    public async Task<RegistrationRefusal?> RegistrationRefusalAsync(string? folder, string studyId, DateTime since, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.QueryFirstOrDefaultAsync<RegistrationRefusal?>(new CommandDefinition("""
            select reason, last_seen as refused_at from share_folder_notes
            where (@folder::text is null or folder = @folder) and study_id = @studyId and state = 'registration_refused' and last_seen >= @since
            order by last_seen desc limit 1
            """, new { folder = folder?.Trim('/'), studyId, since }, cancellationToken: ct));
    }

    /// <summary>A study's patients with their progress and pattern (`nfc status STUDY`).</summary>
    public async Task<IReadOnlyList<PatientProgress>> PatientsAsync(long studyId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<PatientProgress>(new CommandDefinition("""
            select p.id, p.study_id, p.code, p.state, c.images, c.succeeded, c.failed, pm.pattern, pm.density_mean, pm.model
            from patients p
            cross join lateral (select count(*) as images,
                                       count(*) filter (where i.state = 'succeeded') as succeeded,
                                       count(*) filter (where i.state = 'failed') as failed
                                from images i where i.patient_id = p.id) c
            left join lateral (select m.pattern, m.density_mean, concat_ws(' ', mo.name, mo.version) as model
                               from patient_metrics m join models mo on mo.id = m.model_id
                               where m.patient_id = p.id
                               -- the study's model first: a review re-aggregates the others after it, newest
                               order by (m.model_id = (select s.model_id from studies s where s.id = p.study_id)) desc,
                                        m.computed_at desc limit 1) pm on true
            where p.study_id = @studyId
            order by p.code
            """, new { studyId }, cancellationToken: ct))).ToList();
    }

    /// <summary>
    /// A study's images with their results by <paramref name="modelId"/>, else by the study's own (latest) model, not
    /// another study's model that analysed the same content; in pages (<paramref name="afterImageId"/>, <paramref name="limit"/>);
    /// <paramref name="patientId"/> narrows to one patient and <paramref name="state"/> to one image state.
    /// </summary>
    public async Task<IReadOnlyList<ImageRow>> ImagesAsync(long studyId, long? patientId = null, long? modelId = null, int limit = 5000,
        CancellationToken ct = default, long? afterImageId = null, string? state = null)
    {
        // Keyset paging: the page after image afterImageId in the listing order, so images that change state between
        // pages (a state-filtered listing shrinks as workers finish) are neither skipped nor repeated. The anchor's key is
        // read first, so the page is an index range (images_study_listing_idx). An anchor that is gone (a resubmission
        // removed the image) is said, not taken as the start: a caller walking pages would read the first ones again.
        await using var c = await dataSource.OpenConnectionAsync(ct);
        var anchor = afterImageId is null ? default : await c.QuerySingleOrDefaultAsync<(long Patient, string Finger, string Field, long Id)>(
            new CommandDefinition("select patient_id, coalesce(finger, ''), field, id from images where id = @afterImageId and study_id = @studyId",
                new { afterImageId, studyId }, cancellationToken: ct));
        bool after = anchor.Field is not null;
        if (afterImageId is { } gone && !after) throw new ListingAnchorGoneException(gone);
        var sql = """
            select i.id, i.study_id, i.patient_id, p.code as patient_code, i.finger, i.field, shown_image_path(p.code, i.finger, i.rel_path, s.source_path is not null) as rel_path, i.state, i.error_code,
                   i.error, i.attempts, i.sha256, r.instance_count, r.distal_count, r.density_per_mm, r.gradable, r.quality, r.notes,
                   i.qc_exclusion as QcExclusion, i.qc_excluded_by as QcExcludedBy, i.qc_changed_at as QcChangedAt
            from images i join studies s on s.id = i.study_id join patients p on p.id = i.patient_id
            left join lateral (select * from image_metrics m where m.image_sha256 = i.sha256 and m.um_per_px = i.result_um_per_px
                               and m.model_id = coalesce(@modelId::bigint, s.model_id)
                               order by m.analysed_at desc limit 1) r on true
            where i.study_id = @studyId
            """ + (patientId is null ? "" : " and i.patient_id = @patientId") + (state is null ? "" : " and i.state = @state")
            + (after ? " and (i.patient_id, coalesce(i.finger, ''), i.field, i.id) > (@AnchorPatient, @AnchorFinger, @AnchorField, @AnchorId)" : "")
            + " order by i.patient_id, coalesce(i.finger, ''), i.field, i.id limit @limit";
        return (await c.QueryAsync<ImageRow>(new CommandDefinition(sql, new
        {
            studyId, patientId, modelId, limit, state,
            AnchorPatient = anchor.Patient, AnchorFinger = anchor.Finger, AnchorField = anchor.Field, AnchorId = anchor.Id,
        }, cancellationToken: ct))).ToList();
    }

    public async Task<PatientHeader?> PatientAsync(long patientId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.QuerySingleOrDefaultAsync<PatientHeader>(new CommandDefinition("""
            select p.id, p.code, p.state, p.study_id, s.external_id as study_external_id, s.um_per_px as study_um_per_px
            from patients p join studies s on s.id = p.study_id where p.id = @patientId
            """, new { patientId }, cancellationToken: ct));
    }

    /// <summary>Finds a patient by its study's external id and its code (the CLI's `study/patient` form).</summary>
    public async Task<long?> FindPatientAsync(string studyExternalId, string patientCode, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.QuerySingleOrDefaultAsync<long?>(new CommandDefinition("""
            select p.id from patients p join studies s on s.id = p.study_id where s.external_id = @studyExternalId and p.code = @patientCode
            """, new { studyExternalId, patientCode }, cancellationToken: ct));
    }

    /// <summary>The patient's aggregations, newest first; one per model that analysed the patient.</summary>
    public async Task<IReadOnlyList<PatientMetricsRow>> PatientMetricsAsync(long patientId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<PatientMetricsRow>(new CommandDefinition("""
            select pm.patient_id, pm.model_id, m.name as model_name, m.version as model_version, encode(m.sha256, 'hex') as model_sha256,
                   m.metadata ->> 'nfc.training_data' as model_training_data,
                   pm.gradable_fields, pm.ungradable_fields, pm.density_mean, pm.density_median, pm.density_sd,
                   pm.capillary_count, pm.dilated_count, pm.giant_count, pm.abnormal_count, pm.hemorrhage_count, pm.pattern,
                   pm.rule_trace::text as rule_trace, pm.morphology::text as morphology, pm.diameters::text as diameters,
                   pm.per_finger::text as per_finger, pm.settings::text as settings, pm.um_per_px, pm.failed_fields, pm.computed_at,
                   exists (select 1 from images i where i.patient_id = pm.patient_id and i.qc_changed_at > pm.computed_at) as review_pending
            from patient_metrics pm join models m on m.id = pm.model_id
            join patients p on p.id = pm.patient_id join studies s on s.id = p.study_id
            -- the study's model first (the report's default), then the others, newest first
            where pm.patient_id = @patientId order by (pm.model_id = s.model_id) desc, pm.computed_at desc
            """, new { patientId }, cancellationToken: ct))).ToList();
    }

    /// <summary>
    /// The diameters a patient's statistics are made of: loops (normal or abnormal) of its analysed, gradable fields,
    /// so the report's histograms count what its diameter table counts.
    /// </summary>
    public async Task<IReadOnlyList<CapillaryDiameters>> PatientDiametersAsync(long patientId, long modelId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<CapillaryDiameters>(new CommandDefinition("""
            select c.apical_um, c.arterial_um, c.venous_um
            from images i
            join image_metrics im on im.image_sha256 = i.sha256 and im.model_id = @modelId and im.um_per_px = i.result_um_per_px and im.gradable
            join capillaries c on c.image_sha256 = i.sha256 and c.model_id = @modelId and c.um_per_px = i.result_um_per_px
                and c.category in ('normal', 'abnormal')
            where i.patient_id = @patientId and i.state = 'succeeded' and i.qc_exclusion is null
            """, new { patientId, modelId }, cancellationToken: ct))).ToList();
    }

    public async Task<ImageSource?> ImageSourceAsync(long imageId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.QuerySingleOrDefaultAsync<ImageSource>(new CommandDefinition("""
            select i.id, i.patient_id, s.source_path as study_source_path, i.rel_path, i.sha256, i.result_um_per_px, s.model_id as study_model_id
            from images i join studies s on s.id = i.study_id where i.id = @imageId
            """, new { imageId }, cancellationToken: ct));
    }

    /// <summary>The capillaries of an image's results for a model at the image's calibration.</summary>
    public async Task<IReadOnlyList<CapillaryShape>> CapillaryShapesAsync(byte[] imageSha256, long modelId, double umPerPx, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<CapillaryShape>(new CommandDefinition("""
            select instance_index, category, box, mask_rle, mask_rect, keypoints, distal,
                   coalesce(dilated, false) as dilated, coalesce(giant, false) as giant   -- unknown: not drawn as either
            from capillaries where image_sha256 = @imageSha256 and model_id = @modelId and um_per_px = @umPerPx order by instance_index
            """, new { imageSha256, modelId, umPerPx }, cancellationToken: ct))).ToList();
    }

    /// <summary>The keypoint confidence gate the image's measurements used (its stored analysis settings); null for
    /// results stored without it.</summary>
    public async Task<double?> KeypointGateAsync(byte[] imageSha256, long modelId, double umPerPx, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.ExecuteScalarAsync<double?>(new CommandDefinition("""
            select (settings #>> '{analysis,Measurement,MinKeypointConfidence}')::float8
            from image_metrics where image_sha256 = @imageSha256 and model_id = @modelId and um_per_px = @umPerPx
            """, new { imageSha256, modelId, umPerPx }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<WorkerRow>> WorkersAsync(int limit = 200, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<WorkerRow>(new CommandDefinition($"""
            select id, host, pid, device, provider, model_sha256, started_at, heartbeat_at, images_processed,
                   last_batch::text as last_batch, state,
                   ({WorkerStore.Alive}) as alive
            from workers order by heartbeat_at desc limit @limit
            """, new { limit }, cancellationToken: ct))).ToList();
    }

    public async Task<(IReadOnlyList<ShareWatchRow> Watches, IReadOnlyList<ShareScanRow> Scans)> ShareScansAsync(int limit = 50, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        var watches = (await c.QueryAsync<ShareWatchRow>(new CommandDefinition(
            "select root, interval_seconds, last_scan_at, next_scan_at, scan_requested_at from share_watch order by root", cancellationToken: ct))).ToList();
        var scans = (await c.QueryAsync<ShareScanRow>(new CommandDefinition("""
            select id, root, worker_id, started_at, finished_at, folders_seen, studies_found, error
            from share_scans order by started_at desc limit @limit
            """, new { limit }, cancellationToken: ct))).ToList();
        return (watches, scans);
    }

    /// <summary>
    /// Study folders of the watched shares that are not being analysed, and why (share_folder_notes): the refusals and
    /// then the latest seen, up to <paramref name="limit"/>, shown refusals first, by root and folder.
    /// </summary>
    public async Task<IReadOnlyList<ShareFolderNoteRow>> ShareFolderNotesAsync(int limit = 500, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<ShareFolderNoteRow>(new CommandDefinition("""
            select root, folder, state, reason, first_seen, last_seen from (
                select *, state in ('refused', 'registration_refused') as refusal from share_folder_notes
                order by refusal desc, last_seen desc limit @limit) n
            order by refusal desc, root, folder
            """, new { limit }, cancellationToken: ct))).ToList();
    }

    internal static KeysetPage<T> Page<T>(List<T> rows, int limit, Func<T, long> key)
    {
        if (rows.Count <= limit) return new KeysetPage<T>(rows, null);
        rows.RemoveAt(rows.Count - 1);
        return new KeysetPage<T>(rows, key(rows[^1]));
    }
}

/// <summary>A page was asked for after an image that is no longer the study's (removed since the last page was listed).</summary>
public sealed class ListingAnchorGoneException(long imageId)
    : Exception($"Image {imageId} is not an image of this study (removed since the page was listed, by a resubmission for instance); list again from the first page.")
{
    public long ImageId { get; } = imageId;
}
