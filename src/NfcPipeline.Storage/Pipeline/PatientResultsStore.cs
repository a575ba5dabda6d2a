using Dapper;
using NfcPipeline.Core.Aggregation;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>
/// A patient whose aggregation was stored. <see cref="Event"/>, the PatientCompleted stored with the transition, is
/// given to exactly one caller: the one that moved the patient to completed.
/// </summary>
public sealed record PatientOutcome(long PatientId, long StudyId, string StudyExternalId, PendingEvent? Event, string Pattern, int FailedImages);

/// <summary>A study that this caller moved to its final state, with the StudyCompleted stored with the transition.</summary>
public sealed record StudyOutcome(long StudyId, string ExternalId, string State, int SucceededImages, int FailedImages)
{
    public PendingEvent? Event { get; init; }
}

/// <summary>A study whose completion never ran, and its patients not yet completed.</summary>
/// <param name="ModelId">The model the study is analysed with: the sweeping worker's, or one no live worker runs any more.</param>
public sealed record StrandedStudy(long StudyId, IReadOnlyList<long> ProcessingPatients, long ModelId);

/// <summary>
/// Aggregates a patient when its last image is done, from stored rows, under an advisory lock on the patient: two
/// workers finishing the last two images at once both store the same (idempotent) result, and only one of them
/// moves the patient to completed. The completion events are stored in the same transaction (CompletionEventStore).
/// </summary>
public sealed class PatientResultsStore(NpgsqlDataSource db)
{
    /// <summary>A field without this model's result though its image was analysed (by another model).</summary>
    public const string NoResultForModel = "NoResultForModel";

    /// <summary>The most result locks an aggregation takes (see AggregateIfDoneAsync); a patient's fields are a few dozen.</summary>
    internal const int MaxResultLocks = 500;

    public async Task<PatientOutcome?> AggregateIfDoneAsync(long patientId, long modelId, PatientAggregator aggregator, string settingsJson, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // The study's lock first, as registration holds it: a resubmission registering new images for this patient
        // commits before the images are read here, so a patient never completes with images of it still queued.
        await StudyLock.ByPatientAsync(connection, tx, patientId, ct);
        await connection.ExecuteAsync(new CommandDefinition("select pg_advisory_xact_lock(hashtextextended(@Key, 0))",
            new { Key = "nfc.patient:" + patientId }, tx, cancellationToken: ct));

        var patient = await connection.QuerySingleOrDefaultAsync<(string Code, long StudyId, string StudyExternalId)>(new CommandDefinition("""
            select p.code, p.study_id, s.external_id from patients p join studies s on s.id = p.study_id where p.id = @PatientId
            """, new { PatientId = patientId }, tx, cancellationToken: ct));
        if (patient.Code is null) return null;
        // The results read below, locked shared under the keys their writers lock (ResultStore), in the same order: a
        // chunk of another study replacing one of them (the same content analysed again) commits before both reads or
        // after them, never between its measurements and its capillaries. Up to MaxResultLocks: each lock takes a slot
        // of the server's shared lock table, and a patient of thousands of listed fields would exhaust it.
        await connection.ExecuteAsync(new CommandDefinition($"""
            with keys as (select distinct {ResultStore.ResultKey("i.sha256", "@ModelId", "i.result_um_per_px")} as k
                          from images i where i.patient_id = @PatientId and i.result_um_per_px is not null)
            select pg_advisory_xact_lock_shared(k) from (
                select k from keys where (select count(*) from keys) <= @MaxLocks order by k) ordered
            """, new { PatientId = patientId, ModelId = modelId, MaxLocks = MaxResultLocks }, tx, cancellationToken: ct));
        var images = (await connection.QueryAsync<StoredImageRow>(new CommandDefinition("""
            select i.id as ImageId, i.finger, i.rel_path as RelPath, i.state, i.error_code as ErrorCode, i.error, i.sha256,
                   r.um_per_px as UmPerPx, r.width, r.height, r.density_per_mm as DensityPerMm, r.row_length_mm as RowLengthMm,
                   r.gradable, r.ungradable_code as UngradableCode, r.ungradable_reason as UngradableReason, r.quality,
                   r.distal_axis_source as DistalAxisSource, i.qc_exclusion as QcExclusion
            from images i left join image_metrics r on r.image_sha256 = i.sha256 and r.model_id = @ModelId and r.um_per_px = i.result_um_per_px
            where i.patient_id = @PatientId order by i.rel_path
            """, new { PatientId = patientId, ModelId = modelId }, tx, cancellationToken: ct))).ToList();
        if (images.Count == 0 || images.Any(i => i.State is not ("succeeded" or "failed"))) return null;

        var measured = images.Where(i => i.State == "succeeded" && i.UmPerPx is not null).ToList();
        var capillaries = (await connection.QueryAsync<StoredCapillaryRow>(new CommandDefinition("""
            select distinct on (c.image_sha256, c.instance_index)
                   c.image_sha256 as ImageSha256, c.instance_index as InstanceIndex, c.class_name as ClassName, c.category, c.score,
                   c.apical_um as ApicalUm, c.arterial_um as ArterialUm, c.venous_um as VenousUm, c.loop_height_um as LoopHeightUm,
                   c.loop_width_um as LoopWidthUm, c.dilated, c.giant, c.distal
            from capillaries c join unnest(@Shas, @Ums) as x(sha, um) on c.image_sha256 = x.sha and c.um_per_px = x.um
            where c.model_id = @ModelId
            """, new { ModelId = modelId, Shas = measured.Select(i => i.Sha256).ToArray(), Ums = measured.Select(i => i.UmPerPx!.Value).ToArray() },
            tx, cancellationToken: ct))).ToLookup(c => Convert.ToHexString(c.ImageSha256));

        // An image analysed, but by another model (an old chunk requeued after a model change analysed only the rest):
        // no field of this model's result, and said so, not a silent gap in a result that looks complete.
        bool OtherModels(StoredImageRow i) => i.State == "succeeded" && i.Gradable is null;
        var fields = images.Select(i => i.State == "succeeded" && i.Gradable is not null
            ? new FieldResult(i.RelPath, i.Finger ?? FieldResult.UnknownFinger, StoredMeasurements.Rebuild(i, capillaries[Convert.ToHexString(i.Sha256)].ToList()))
            : new FieldResult(i.RelPath, i.Finger ?? FieldResult.UnknownFinger, null,
                OtherModels(i) ? $"{NoResultForModel}: analysed by another model only; resubmit the study to analyse it with this one"
                : i.ErrorCode is null ? i.Error : $"{i.ErrorCode}: {i.Error}")).ToList();
        var report = aggregator.Aggregate(patient.Code, fields);
        int failed = images.Count(i => i.State == "failed" || OtherModels(i));
        var calibrations = measured.Select(i => i.UmPerPx!.Value).Distinct().ToList();
        await SaveAsync(connection, tx, patientId, modelId, report, settingsJson, calibrations.Count == 1 ? calibrations[0] : null, failed, ct);

        var flipped = await connection.ExecuteScalarAsync<long?>(new CommandDefinition("""
            update patients set state = @State, completed_at = now()
            where id = @PatientId and state not in ('completed', 'completed_with_errors') returning id
            """, new { PatientId = patientId, State = failed > 0 ? "completed_with_errors" : "completed" }, tx, cancellationToken: ct));
        var pattern = PatientMetricsJson.Pattern(report.FastTrack);
        var announced = flipped is null ? null : await CompletionEventStore.InsertAsync(connection, tx, patient.StudyId,
            new Contracts.PatientCompleted(patient.StudyExternalId, patientId, pattern, failed, DateTimeOffset.UtcNow), ct);
        await tx.CommitAsync(ct);
        return new PatientOutcome(patientId, patient.StudyId, patient.StudyExternalId, announced, pattern, failed);
    }

    /// <summary>
    /// The models the patient has results of, each with the settings its result was computed under; the study's model
    /// first, so that it, not another model's result, completes a patient left processing (and says its pattern).
    /// </summary>
    public async Task<IReadOnlyList<(long ModelId, string Settings)>> ResultModelsAsync(long patientId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<(long, string)>(new CommandDefinition("""
            select pm.model_id, pm.settings::text from patient_metrics pm
            join patients p on p.id = pm.patient_id join studies s on s.id = p.study_id
            where pm.patient_id = @patientId order by pm.model_id is distinct from s.model_id, pm.model_id
            """, new { patientId }, cancellationToken: ct))).ToList();
    }

    /// <summary>
    /// The patient's results of models other than <paramref name="modelId"/> computed before a review last changed one
    /// of its fields (kept through a reanalysis that left its images as they were), each with its settings.
    /// </summary>
    public async Task<IReadOnlyList<(long ModelId, string Settings)>> OtherResultsBehindReviewAsync(long patientId, long modelId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<(long, string)>(new CommandDefinition("""
            select pm.model_id, pm.settings::text from patient_metrics pm
            where pm.patient_id = @patientId and pm.model_id <> @modelId
              and exists (select 1 from images i where i.patient_id = pm.patient_id and i.qc_changed_at > pm.computed_at)
            order by pm.model_id
            """, new { patientId, modelId }, cancellationToken: ct))).ToList();
    }

    /// <summary>Moves the study to completed (or completed_with_errors) once every patient is; null when not this caller's to do.</summary>
    public async Task<StudyOutcome?> CompleteStudyIfDoneAsync(long studyId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await StudyLock.ByStudyAsync(connection, tx, studyId, ct);
        var outcome = await connection.QuerySingleOrDefaultAsync<StudyOutcome>(new CommandDefinition("""
            with counts as (
                select count(*) filter (where state = 'succeeded') as ok, count(*) filter (where state = 'failed') as bad
                from images where study_id = @StudyId)
            -- A patient with errors makes the study's too: fields no result of this model covers (another model's only) are
            -- succeeded images, but the patient counts them failed.
            update studies s set state = case when counts.bad > 0 or exists (select 1 from patients p where p.study_id = s.id
                                                  and p.state = 'completed_with_errors') then 'completed_with_errors' else 'completed' end,
                completed_at = now(), updated_at = now()
            from counts
            where s.id = @StudyId and s.state = 'processing'
              and not exists (select 1 from patients p where p.study_id = s.id and p.state not in ('completed', 'completed_with_errors'))
              and not exists (select 1 from images i where i.study_id = s.id and i.state not in ('succeeded', 'failed'))
            returning s.id as StudyId, s.external_id as ExternalId, s.state, counts.ok::int as SucceededImages, counts.bad::int as FailedImages
            """, new { StudyId = studyId }, tx, cancellationToken: ct));
        if (outcome is not null)
            outcome = outcome with
            {
                Event = await CompletionEventStore.InsertAsync(connection, tx, studyId, new Contracts.StudyCompleted(outcome.ExternalId, outcome.StudyId,
                    outcome.State, outcome.SucceededImages, outcome.FailedImages, DateTimeOffset.UtcNow), ct),
            };
        await tx.CommitAsync(ct);
        return outcome;
    }

    /// <summary>
    /// Studies still processing though every image of theirs is done and none has changed for <paramref name="quietFor"/>,
    /// with their patients still processing: their completion never ran (the registration's or a chunk's message failed
    /// after its commit, past its retries). Oldest first. Those of this model, and those of a model no worker has run
    /// for <paramref name="quietFor"/> (the fleet moved to another): nobody else would complete them.
    /// </summary>
    /// <param name="skip">Studies left out (the sweep's, backing off after failures), so they do not fill every page.</param>
    public async Task<IReadOnlyList<StrandedStudy>> StrandedStudiesAsync(long modelId, TimeSpan quietFor, int limit, CancellationToken ct,
        IReadOnlyCollection<long>? skip = null)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<(long StudyId, long[] PatientIds, long ModelId)>(new CommandDefinition("""
            select s.id, array(select p.id from patients p where p.study_id = s.id
                               and p.state not in ('completed', 'completed_with_errors') order by p.id),
                   coalesce(s.model_id, @ModelId)
            from studies s
            where s.state = 'processing' and s.id <> all(@Skip)
              and (s.model_id = @ModelId
                   or not exists (select 1 from workers w join models m on m.sha256 = w.model_sha256
                                  where m.id = s.model_id and w.state = 'running' and w.heartbeat_at > now() - @QuietFor))
              and coalesce(s.registered_at, s.updated_at) < now() - @QuietFor
              and not exists (select 1 from images i where i.study_id = s.id
                              and (i.state not in ('succeeded', 'failed') or i.updated_at > now() - @QuietFor))
            order by coalesce(s.registered_at, s.updated_at) limit @Limit
            """, new { ModelId = modelId, QuietFor = quietFor, Limit = limit, Skip = (skip ?? []).ToArray() }, cancellationToken: ct)))
            .Select(r => new StrandedStudy(r.StudyId, r.PatientIds, r.ModelId)).ToList();
    }

    /// <summary>
    /// Completed patients of studies of <paramref name="modelId"/> (or of a model no worker has run for
    /// <paramref name="quietFor"/>: any worker aggregates any model's results) whose fields a review changed after
    /// their result was aggregated, over <paramref name="quietFor"/> ago (review_pending): the request to aggregate them
    /// again was lost (a publish that failed after the review's commit, a message past its retries, or the best-effort
    /// step that brings another model's result along after a reanalysis). Oldest change first;
    /// from the reviewed fields (images_qc_changed_idx, migration 0039), not every patient's images.
    /// </summary>
    public async Task<IReadOnlyList<long>> ReviewPendingPatientsAsync(long modelId, TimeSpan quietFor, int limit, CancellationToken ct,
        IReadOnlyCollection<long>? skip = null)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<long>(new CommandDefinition("""
            select p.id from images i
            join patients p on p.id = i.patient_id join studies s on s.id = p.study_id
            join patient_metrics pm on pm.patient_id = p.id   -- any model's result: the views flag each (review_pending)
            where i.qc_changed_at is not null and i.qc_changed_at > pm.computed_at
              and p.state in ('completed', 'completed_with_errors') and p.id <> all(@Skip)
              and (s.model_id = @ModelId
                   or not exists (select 1 from workers w join models m on m.sha256 = w.model_sha256
                                  where m.id = s.model_id and w.state = 'running' and w.heartbeat_at > now() - @QuietFor))
            group by p.id having max(i.qc_changed_at) < now() - @QuietFor
            order by max(i.qc_changed_at) limit @Limit
            """, new { ModelId = modelId, QuietFor = quietFor, Limit = limit, Skip = (skip ?? []).ToArray() }, cancellationToken: ct))).ToList();
    }

    /// <summary>
    /// The settings the study's images were analysed with by <paramref name="modelId"/> (its latest result's); where it
    /// has none (every image failed), the model's hash alone, so a result is never named by another model.
    /// </summary>
    public async Task<string?> AnalysisSettingsAsync(long studyId, long modelId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<string?>(new CommandDefinition("""
            select coalesce(
                (select r.settings::text from images i
                 join image_metrics r on r.image_sha256 = i.sha256 and r.um_per_px = i.result_um_per_px and r.model_id = @ModelId
                 where i.study_id = @StudyId order by r.analysed_at desc limit 1),
                (select jsonb_build_object('model_sha256', encode(m.sha256, 'hex'))::text from models m where m.id = @ModelId))
            """, new { StudyId = studyId, ModelId = modelId }, cancellationToken: ct));
    }

    /// <summary>
    /// The patient's study, where the patient is not completed and has no result under its study's model (its completion
    /// lost after a model change): that model must complete it, not another model's result kept from before. Else null.
    /// </summary>
    public async Task<long?> UnaggregatedStudyAsync(long patientId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long?>(new CommandDefinition("""
            select s.id from patients p join studies s on s.id = p.study_id
            where p.id = @patientId and p.state not in ('completed', 'completed_with_errors') and s.model_id is not null
              and not exists (select 1 from patient_metrics pm where pm.patient_id = p.id and pm.model_id = s.model_id)
            """, new { patientId }, cancellationToken: ct));
    }

    /// <summary>The model the study is analysed with (studies.model_id); null for a study that is gone.</summary>
    public async Task<long?> StudyModelAsync(long studyId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "select model_id from studies where id = @StudyId", new { StudyId = studyId }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<long>> PatientsOfStudyAsync(long studyId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<long>(new CommandDefinition("select id from patients where study_id = @StudyId order by id",
            new { StudyId = studyId }, cancellationToken: ct))).ToList();
    }

    /// <summary>Stored with the time it was saved (clock_timestamp, after the study's lock), which review_pending compares with a review's.</summary>
    private static Task SaveAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long patientId, long modelId, PatientReport report, string settingsJson,
        double? umPerPx, int failedFields, CancellationToken ct)
    {
        var o = report.Overall;
        return connection.ExecuteAsync(new CommandDefinition("""
            insert into patient_metrics (patient_id, model_id, gradable_fields, ungradable_fields, density_mean, density_median, density_sd,
                capillary_count, dilated_count, giant_count, abnormal_count, hemorrhage_count, pattern, rule_trace, morphology, diameters,
                per_finger, settings, um_per_px, failed_fields, computed_at)
            values (@PatientId, @ModelId, @Gradable, @Ungradable, @Mean, @Median, @Sd, @Loops, @Dilated, @Giant, @Abnormal, @Hemorrhage,
                @Pattern, @Trace::jsonb, @Morphology::jsonb, @Diameters::jsonb, @PerFinger::jsonb, @Settings::jsonb, @UmPerPx, @FailedFields, clock_timestamp())
            on conflict (patient_id, model_id) do update set
                gradable_fields = excluded.gradable_fields, ungradable_fields = excluded.ungradable_fields,
                density_mean = excluded.density_mean, density_median = excluded.density_median, density_sd = excluded.density_sd,
                capillary_count = excluded.capillary_count, dilated_count = excluded.dilated_count, giant_count = excluded.giant_count,
                abnormal_count = excluded.abnormal_count, hemorrhage_count = excluded.hemorrhage_count, pattern = excluded.pattern,
                rule_trace = excluded.rule_trace, morphology = excluded.morphology, diameters = excluded.diameters,
                per_finger = excluded.per_finger, settings = excluded.settings, um_per_px = excluded.um_per_px,
                failed_fields = excluded.failed_fields, computed_at = excluded.computed_at
            """, new
            {
                PatientId = patientId, ModelId = modelId, Gradable = o.GradableFieldCount, Ungradable = o.UngradableFieldCount,
                o.DensityPerMm.Mean, o.DensityPerMm.Median, o.DensityPerMm.Sd, Loops = o.LoopCount, Dilated = o.DilatedCount,
                Giant = o.GiantCount, Abnormal = o.AbnormalCount, Hemorrhage = o.HemorrhageCount,
                Pattern = PatientMetricsJson.Pattern(report.FastTrack), Trace = PatientMetricsJson.RuleTrace(report.FastTrack),
                Morphology = PatientMetricsJson.Morphology(o.Morphology), Diameters = PatientMetricsJson.Diameters(o),
                PerFinger = PatientMetricsJson.PerFinger(report), Settings = settingsJson, UmPerPx = umPerPx, FailedFields = failedFields,
            }, tx, cancellationToken: ct));
    }
}
