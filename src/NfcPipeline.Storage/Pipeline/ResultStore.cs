using Dapper;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <param name="Notes">What the decoder and the measurement noted about the image (stored with its result).</param>
public sealed record AnalysedImage(long ImageId, byte[] Sha256, IReadOnlyList<CapillaryInstance> Instances, ImageMeasurement Measurement,
    IReadOnlyList<string>? Notes = null);

public sealed record FailedImage(long ImageId, string Code, string Error);

/// <summary>An image to analyse: its file relative to the share (source_path, then rel_path) and its study's calibration.</summary>
public sealed record ChunkImage(long ImageId, long PatientId, long StudyId, byte[] Sha256, string RelPath, string? SourcePath, double? UmPerPx);

/// <summary>An image whose results for this model at its calibration already existed.</summary>
public sealed record ReusedImage(long ImageId, double UmPerPx);

/// <summary>
/// Everything one chunk produced. Reused images already had results for this model at their calibration.
/// <see cref="Images"/> are the chunk's images as it loaded them: an image whose content or study calibration has
/// changed since, or that a resubmission queued again in a later chunk (a reanalysis), keeps the state the
/// resubmission gave it.
/// </summary>
public sealed record ChunkResult(long JobId, long ModelId, IReadOnlyList<AnalysedImage> Analysed, IReadOnlyList<FailedImage> Failed,
    IReadOnlyList<ReusedImage> Reused, string SettingsJson, IReadOnlyList<ChunkImage> Images);

/// <summary>
/// Writes a chunk's results in one transaction (capillary rows by binary COPY, image metrics, image and job state), so
/// a redelivered chunk either finds everything committed or nothing. Results are keyed by (image sha256, model, µm per
/// pixel), and each image records the calibration its results are at (images.result_um_per_px).
/// </summary>
/// <summary>What a chunk's write did: the patients to check for completion, and whether it stored its results.</summary>
/// <param name="SharingPatients">Patients of other images (other studies, or other images of one content) whose result
/// this write replaced (a reanalysis under changed settings): their patient results were aggregated from the old one.</param>
public sealed record ChunkWrite(IReadOnlyList<long> Patients, bool Stored, IReadOnlyList<long>? SharingPatients = null);

public sealed class ResultStore(NpgsqlDataSource db)
{
    /// <summary>
    /// The advisory lock key of one result (content, model, calibration) as SQL: a chunk's write holds it exclusively,
    /// a patient's aggregation shared (PatientResultsStore).
    /// </summary>
    public static string ResultKey(string sha, string modelId, string umPerPx) =>
        $"hashtextextended('nfc.result:' || encode({sha}, 'hex') || ':' || {modelId} || ':' || {umPerPx}, 0)";

    private const string PatientsOfImagesSql = "select distinct patient_id from images where id = any(@Ids)";

    /// <summary>
    /// Commits the chunk and returns the patients it touched; null, storing nothing, when its job has failed or was
    /// deleted. A job already succeeded stores nothing either (the first commit stands) but names the chunk's patients,
    /// with <see cref="ChunkWrite.Stored"/> false, for completion to be checked again: that is also a retry of this
    /// write whose commit went through but whose reply was lost.
    /// </summary>
    public async Task<ChunkWrite?> WriteChunkAsync(ChunkResult chunk, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);

        // Registration holds the study's lock while it queues images again and creates their new chunks; taken here
        // first, every check below sees such a registration either whole or not at all.
        foreach (var studyId in chunk.Images.Select(i => i.StudyId).Distinct().Order())
            await StudyLock.ByStudyAsync(connection, tx, studyId, ct);

        // A chunk failed meanwhile (given up while this worker still ran it, or failed after its retries) keeps its
        // failed images: its patients and study completed on them, and the events went out. Only a requeue runs it again.
        // Its row is locked, so a fault marking it failed waits for this commit, then leaves the succeeded job alone.
        var jobState = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "select state from jobs where id = @JobId for update", new { chunk.JobId }, tx, cancellationToken: ct));
        if (jobState is "failed" or "deleted")
        {
            await tx.RollbackAsync(ct);
            return null;
        }
        // Written before: by another delivery of this message that ran beside this one (a requeue of a job thought
        // stalled, a redelivery that found its first worker's heartbeat stopped), or by this very write, retried after its
        // commit's reply was lost.
        if (jobState == "succeeded")
        {
            var patientsOfChunk = (await connection.QueryAsync<long>(new CommandDefinition(
                PatientsOfImagesSql, new { Ids = chunk.Images.Select(i => i.ImageId).ToArray() },
                tx, cancellationToken: ct))).ToList();
            await tx.RollbackAsync(ct);
            return new ChunkWrite(patientsOfChunk, Stored: false);
        }

        // Only images still as this chunk loaded them: same content, same study calibration, and still this chunk's (a
        // resubmission that queued one again in a later chunk moved it there, whether that chunk is still to run or has
        // already written: its outcome stands, and this chunk stores nothing for the image; see ChunkResult).
        var current = (await connection.QueryAsync<long>(new CommandDefinition($"""
            select i.id from images i join studies s on s.id = i.study_id join unnest(@Ids, @Shas, @Ums) as x(id, sha, um)
                on i.id = x.id and i.sha256 = x.sha
                and (coalesce(s.um_per_px, s.analysis_um_per_px) is not distinct from x.um or x.um is null and s.um_per_px is null)
            where {OwnedByThisChunk}
            for update of i
            """, new
            {
                chunk.JobId,
                Ids = chunk.Images.Select(i => i.ImageId).ToArray(), Shas = chunk.Images.Select(i => i.Sha256).ToArray(),
                Ums = chunk.Images.Select(i => i.UmPerPx).ToArray(),
            }, tx, cancellationToken: ct))).ToHashSet();

        // The same content twice in one chunk (a copied file) is stored once and marks both images.
        var unique = chunk.Analysed.Where(a => current.Contains(a.ImageId))
            .GroupBy(a => Convert.ToHexString(a.Sha256)).Select(g => g.First()).ToList();
        var keys = new { chunk.ModelId, Shas = unique.Select(a => a.Sha256).ToArray(), Ums = unique.Select(a => a.Measurement.MicrometresPerPixel).ToArray() };
        // Two chunks holding one content (a copied file) write its result one after the other: the second then sees and
        // replaces the first's rows instead of failing on their key. Locks are taken in one order, so no deadlock.
        await connection.ExecuteAsync(new CommandDefinition($"""
            select pg_advisory_xact_lock(k) from (
                select distinct {ResultKey("x.sha", "@ModelId", "x.um")} as k
                from unnest(@Shas, @Ums) as x(sha, um) order by 1) keys
            """, keys, tx, cancellationToken: ct));
        // A result at the same calibration is replaced (a reanalysis); those at other calibrations belong to other studies.
        var replaced = (await connection.QueryAsync<(byte[] Sha, double Um)>(new CommandDefinition("""
            delete from image_metrics r using unnest(@Shas, @Ums) as x(sha, um)
            where r.model_id = @ModelId and r.image_sha256 = x.sha and r.um_per_px = x.um
            returning r.image_sha256, r.um_per_px
            """, keys, tx, cancellationToken: ct))).ToList();
        foreach (var image in unique)
            await connection.ExecuteAsync(new CommandDefinition(InsertMetricsSql, MetricsRow(image, chunk), tx, cancellationToken: ct));
        await CapillaryCopy.WriteAsync(connection, unique, chunk.ModelId, ct);
        // The study's results are now (also) this model's: its reports follow the model that last analysed it.
        await connection.ExecuteAsync(new CommandDefinition("""
            update studies set model_id = @ModelId where id = any(@Studies) and model_id is distinct from @ModelId
            """, new { chunk.ModelId, Studies = chunk.Images.Where(i => current.Contains(i.ImageId)).Select(i => i.StudyId).Distinct().ToArray() },
            tx, cancellationToken: ct));
        var succeeded = chunk.Analysed.Select(a => (a.ImageId, Um: a.Measurement.MicrometresPerPixel))
            .Concat(chunk.Reused.Select(r => (r.ImageId, Um: r.UmPerPx))).Where(x => current.Contains(x.ImageId)).ToList();
        var failed = chunk.Failed.Where(f => current.Contains(f.ImageId)).ToList();
        await connection.ExecuteAsync(new CommandDefinition("""
            update images i set state = 'succeeded', error = null, error_code = null, attempts = attempts + 1, updated_at = now(),
                result_um_per_px = x.um
            from unnest(@Ids, @Ums) as x(id, um) where i.id = x.id
            """, new { Ids = succeeded.Select(x => x.ImageId).ToArray(), Ums = succeeded.Select(x => x.Um).ToArray() }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition("""
            update images i set state = 'failed', error_code = f.code, error = f.error, attempts = i.attempts + 1, updated_at = now(),
                result_um_per_px = null
            from unnest(@Ids, @Codes, @Errors) as f(id, code, error) where i.id = f.id
            """, new
            {
                Ids = failed.Select(f => f.ImageId).ToArray(),
                Codes = failed.Select(f => f.Code).ToArray(),
                Errors = failed.Select(f => f.Error).ToArray(),
            }, tx, cancellationToken: ct));
        // Not while the job owns images this delivery never loaded: a requeue since gave it back images that a later
        // chunk had failed (JobAdmin), and its new message runs them; marked succeeded, that message would find the job
        // done and leave them queued for ever.
        await connection.ExecuteAsync(new CommandDefinition($"""
            update jobs set state = 'succeeded', last_error = null, finished_at = now(), updated_at = now() where id = @JobId
                and not {OwnsUnloadedImagesSql}
            """, new { chunk.JobId, Loaded = chunk.Images.Select(i => i.ImageId).ToArray() }, tx, cancellationToken: ct));
        var patients = (await connection.QueryAsync<long>(new CommandDefinition(
            PatientsOfImagesSql,
            new { Ids = succeeded.Select(x => x.ImageId).Concat(failed.Select(f => f.ImageId)).ToArray() }, tx, cancellationToken: ct))).ToList();
        // Other images showing a replaced result, whose patients were aggregated from the old under this model: their
        // study's model now or not (a study moved on to another model keeps this one's patient rows, and shows them).
        var sharing = replaced.Count == 0 ? [] : (await connection.QueryAsync<long>(new CommandDefinition("""
            select distinct i.patient_id from images i
            join unnest(@Shas, @Ums) as x(sha, um) on i.sha256 = x.sha and i.result_um_per_px = x.um
            where i.state = 'succeeded' and not (i.patient_id = any(@Patients))
              and exists (select 1 from patient_metrics pm where pm.patient_id = i.patient_id and pm.model_id = @ModelId)
            order by 1
            """, new { chunk.ModelId, Shas = replaced.Select(r => r.Sha).ToArray(), Ums = replaced.Select(r => r.Um).ToArray(), Patients = patients.ToArray() },
            tx, cancellationToken: ct))).ToList();
        await tx.CommitAsync(ct);
        return new ChunkWrite(patients, Stored: true, sharing);
    }

    /// <summary>
    /// Whether job @JobId owns open images beyond those it loaded (@Loaded). Asked at every chunk commit, under the
    /// study's lock: found by index (images_open_chunk_idx), not by reading every open image of every study.
    /// </summary>
    public const string OwnsUnloadedImagesSql =
        "exists (select 1 from images where chunk_job_id = @JobId and state in ('queued', 'processing') and not (id = any(@Loaded)))";

    /// <summary>
    /// Image i belongs to chunk @JobId: chunk creation and a requeue set images.chunk_job_id (migration 0016); images
    /// from before it have none and belong to whichever chunk lists them.
    /// </summary>
    private const string OwnedByThisChunk = "(i.chunk_job_id is null or i.chunk_job_id = @JobId)";

    /// <summary>
    /// The images of a chunk that will not run (given up, <see cref="JobStart.GivenUp"/>, or failed after its retries)
    /// fail with <paramref name="error"/>, except those already finished or now another chunk's, and only
    /// images the job itself lists (a malformed message names others), and only while that job is failed (requeued in the
    /// meantime, its images are queued again and stay so); returns the patients touched, for completion. Given
    /// <paramref name="jobFault"/> (a fault after its retries), the job is marked failed first in the same transaction
    /// (<see cref="JobStore.MarkFailedAsync(long, string, DateTime, CancellationToken, DateTime?, string?)"/>): in two, an outage
    /// between them past the fault's own retries left the job failed and its images queued, the study processing for ever.
    /// </summary>
    public async Task<IReadOnlyList<long>> FailUnfinishedImagesAsync(long jobId, IReadOnlyList<long> imageIds, string code, string error, CancellationToken ct,
        ChunkFault? jobFault = null)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var studies = await connection.QueryAsync<long>(new CommandDefinition(
            "select distinct study_id from images where id = any(@Ids) order by 1", new { Ids = imageIds.ToArray() }, tx, cancellationToken: ct));
        foreach (var studyId in studies) await StudyLock.ByStudyAsync(connection, tx, studyId, ct);
        if (jobFault is not null) await JobStore.MarkFailedAsync(connection, tx, jobFault, jobId, ct);
        var patients = (await connection.QueryAsync<long>(new CommandDefinition($"""
            update images i set state = 'failed', error_code = @Code, error = @Error, attempts = attempts + 1, updated_at = now(),
                result_um_per_px = null
            where i.id = any(@Ids) and i.state in ('queued', 'processing') and {OwnedByThisChunk}
              and exists (select 1 from jobs o, jsonb_array_elements_text(o.payload -> 'image_ids') e
                          where o.id = @JobId and o.kind = 'analyze_chunk' and o.state = 'failed' and e::bigint = i.id)
            returning i.patient_id
            """, new { JobId = jobId, Ids = imageIds.ToArray(), Code = code, Error = error }, tx, cancellationToken: ct))).Distinct().ToList();
        await tx.CommitAsync(ct);
        return patients;
    }

    /// <summary>The images of a chunk with what analysis needs: where the file is and its calibration.</summary>
    public async Task<IReadOnlyList<ChunkImage>> LoadChunkImagesAsync(IReadOnlyList<long> imageIds, CancellationToken ct) =>
        await LoadAsync(ChunkImagesSql, new { Ids = imageIds.ToArray() }, ct);

    /// <summary>
    /// The images of chunk <paramref name="jobId"/> that are still its own: one a resubmission moved to a later chunk
    /// (a corrected calibration, a reanalysis) is not loaded, so it is not analysed here only for the write to skip it.
    /// </summary>
    public async Task<IReadOnlyList<ChunkImage>> LoadChunkImagesAsync(long jobId, IReadOnlyList<long> imageIds, CancellationToken ct) =>
        await LoadAsync(ChunkImagesSql + $" and {OwnedByThisChunk}", new { Ids = imageIds.ToArray(), JobId = jobId }, ct);

    private const string ChunkImagesSql = """
        select i.id as ImageId, i.patient_id as PatientId, i.study_id as StudyId, i.sha256, i.rel_path as RelPath,
               s.source_path as SourcePath, coalesce(s.um_per_px, s.analysis_um_per_px) as UmPerPx
        from images i join studies s on s.id = i.study_id where i.id = any(@Ids)
        """;

    private async Task<IReadOnlyList<ChunkImage>> LoadAsync(string sql, object args, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<ChunkImage>(new CommandDefinition(sql + " order by i.id", args, cancellationToken: ct))).ToList();
    }

    public async Task<IReadOnlyList<long>> PatientsOfImagesAsync(IReadOnlyList<long> imageIds, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<long>(new CommandDefinition(PatientsOfImagesSql,
            new { Ids = imageIds.ToArray() }, cancellationToken: ct))).ToList();
    }

    /// <summary>
    /// Which of these images already have results for the model at the calibration they are analysed at (to reuse
    /// rather than infer again): hex sha256s.
    /// </summary>
    /// <returns>Hex sha256 and µm/px (each as stored, for pointing an image at that result) of those found.</returns>
    public async Task<IReadOnlyDictionary<(string Sha256, double UmPerPx), double>> ExistingResultsAsync(
        IEnumerable<(byte[] Sha256, double UmPerPx)> images, long modelId, string settingsJson, CancellationToken ct)
    {
        var list = images.ToList();
        await using var connection = await db.OpenConnectionAsync(ct);
        var found = await connection.QueryAsync<(byte[] Sha, double Asked, double Stored)>(new CommandDefinition($"""
            select distinct r.image_sha256, x.um, r.um_per_px from image_metrics r join unnest(@Shas, @Ums) as x(sha, um)
                on r.image_sha256 = x.sha and abs(r.um_per_px - x.um) <= 1e-9 * x.um
            where r.model_id = @ModelId and {SameMeasurementSettings}
            """, new { ModelId = modelId, Shas = list.Select(i => i.Sha256).ToArray(), Ums = list.Select(i => i.UmPerPx).ToArray(), Settings = settingsJson },
            cancellationToken: ct));
        var result = new Dictionary<(string, double), double>();
        foreach (var (sha, asked, stored) in found) result[(Convert.ToHexString(sha), asked)] = stored;
        return result;
    }

    /// <summary>
    /// A stored result <c>r</c> was measured with the analysis and decoder settings of <c>@Settings</c> (a worker's
    /// SettingsJson): only then is it reused. Changed thresholds, category maps or decoder options otherwise left old
    /// flags and counts in place under a report that names the new settings. The software version and the fast-track
    /// rules (patient-level: applied at aggregation, not stored per image) may differ.
    /// </summary>
    internal const string SameMeasurementSettings =
        "(r.settings -> 'analysis') - 'FastTrack' is not distinct from (@Settings::jsonb -> 'analysis') - 'FastTrack' " +
        "and r.settings -> 'decoder' is not distinct from @Settings::jsonb -> 'decoder'";

    private const string InsertMetricsSql = """
        insert into image_metrics (image_sha256, model_id, um_per_px, width, height, instance_count, distal_count, density_per_mm,
            row_length_mm, hemorrhage_count, gradable, ungradable_code, ungradable_reason, quality, settings, distal_line, distal_axis_source, notes)
        values (@Sha, @ModelId, @UmPerPx, @Width, @Height, @InstanceCount, @DistalCount, @Density,
            @RowLength, @Hemorrhages, @Gradable, @UngradableCode, @UngradableReason, @Quality, @Settings::jsonb, @DistalLine, @AxisSource, @Notes)
        """;

    private static object MetricsRow(AnalysedImage image, ChunkResult chunk)
    {
        var m = image.Measurement;
        var line = m.DistalRow.Line is { } l ? new[] { (float)l.Start.X, (float)l.Start.Y, (float)l.End.X, (float)l.End.Y } : null;
        return new
        {
            Sha = image.Sha256, chunk.ModelId, UmPerPx = m.MicrometresPerPixel, Width = m.ImageWidth, Height = m.ImageHeight,
            InstanceCount = image.Instances.Count, m.DistalCount, Density = m.DensityPerMm, RowLength = m.DistalRow.LineLengthMm,
            Hemorrhages = m.HemorrhageCount, Gradable = m.Grading.IsGradable,
            UngradableCode = m.Grading.IsGradable ? null : m.Grading.Reason.ToString(),
            UngradableReason = m.Grading.IsGradable ? null : m.Grading.Explanation,
            Quality = m.Quality.ToString(), Settings = chunk.SettingsJson, DistalLine = line, AxisSource = m.DistalRow.AxisSource.ToString(),
            Notes = (image.Notes ?? []).ToArray(),
        };
    }
}
