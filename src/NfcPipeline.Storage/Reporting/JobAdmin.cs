using System.Text.Json;
using Dapper;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Pipeline;
using Npgsql;

namespace NfcPipeline.Storage.Reporting;

/// <summary>Outcome of a requeue: jobs put back with their message published, and jobs left as they were, with why.</summary>
/// <param name="MoreMatched">More jobs matched than one requeue takes (<see cref="JobAdmin.BulkLimit"/>): run it again for the rest.</param>
public sealed record RequeueResult(IReadOnlyList<long> Requeued, IReadOnlyList<(long JobId, string Reason)> Skipped, bool MoreMatched = false);

/// <summary>Jobs marked deleted, and the patients whose images that failed (JobDeleted): they are complete once aggregated.</summary>
public sealed record JobDeletion(int Deleted, IReadOnlyList<long> PatientsToComplete);

/// <summary>
/// Job listing and the operator actions on jobs and share scans, shared by the dashboard and the CLI.
/// Actions change rows and publish their messages inside one transaction: when publishing fails the rows stay
/// as they were; when the commit fails after a publish, the worker receives a message for a job still failed, and
/// leaves it (JobStart.Failed): the requeue did not happen, as the operator was told.
/// </summary>
public sealed class JobAdmin(NpgsqlDataSource dataSource, int bulkLimit = JobAdmin.BulkLimit)
{
    public static readonly string[] ListedStates = ["enqueued", "processing", "succeeded", "failed", "retrying"];
    public static readonly string[] Kinds = ["analyze_chunk", "aggregate_patient", "scan_share", "register_study"];
    public const int BulkLimit = 20_000;

    static JobAdmin() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    private const string JobSelect = """
        select j.id, j.kind, j.state, j.study_id, s.external_id as study, j.payload::text as payload, j.attempts, j.max_attempts,
               j.last_error, j.worker_id, j.created_at, j.enqueued_at, j.started_at, j.finished_at, j.updated_at
        from jobs j left join studies s on s.id = j.study_id
        """;

    /// <summary>Newest first, keyset-paged on id; served by jobs_state_id_idx / jobs_state_kind_id_idx / jobs_study_state_id_idx.</summary>
    public async Task<KeysetPage<JobRow>> ListAsync(JobFilter filter, CancellationToken ct = default)
    {
        var sql = JobSelect + " where j.state = @State" + FilterSql(filter)
            + (filter.Before is null ? "" : " and j.id < @Before") + " order by j.id desc limit @Take";
        await using var c = await dataSource.OpenConnectionAsync(ct);
        var rows = (await c.QueryAsync<JobRow>(new CommandDefinition(sql,
            new { filter.State, filter.Kind, filter.Study, filter.Before, Take = filter.Limit + 1 }, cancellationToken: ct))).ToList();
        return ReportingQueries.Page(rows, filter.Limit, r => r.Id);
    }

    /// <summary>Job counts per state under the same kind/study filter.</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountsAsync(string? kind, string? study, CancellationToken ct = default)
    {
        var sql = "select j.state, count(*) as n from jobs j where true" + FilterSql(new JobFilter("", kind, study)) + " group by j.state";
        await using var c = await dataSource.OpenConnectionAsync(ct);
        var rows = await c.QueryAsync<(string State, long N)>(new CommandDefinition(sql, new { Kind = kind, Study = study }, cancellationToken: ct));
        var counts = ListedStates.Append("deleted").ToDictionary(s => s, _ => 0L);
        foreach (var (state, n) in rows) counts[state] = n;
        return counts;
    }

    public async Task<JobRow?> GetAsync(long id, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.QuerySingleOrDefaultAsync<JobRow>(new CommandDefinition(JobSelect + " where j.id = @id", new { id }, cancellationToken: ct));
    }

    /// <summary>Requeues the given failed jobs, recorded in audit_log under <paramref name="actor"/>.</summary>
    public Task<RequeueResult> RequeueAsync(IReadOnlyCollection<long> jobIds, string actor, Func<object, CancellationToken, Task> publish,
        CancellationToken ct = default) =>
        RequeueWhereAsync("j.id = any(@Ids)", new { Ids = jobIds.ToArray() }, actor, "jobs by id", publish, ct);

    /// <summary>
    /// Requeues chunk jobs that are stalled: enqueued, retrying or processing, and not touched for <paramref name="olderThan"/>.
    /// A job whose message was lost (a queue purged, a node gone, its fault unrecorded through a long database outage)
    /// stays so for ever, and its study with it: nothing else publishes it again. The rule cannot tell such a job from one
    /// still queued behind a longer backlog, or still running after that long: those are run a second time (their
    /// results are written once), so <paramref name="olderThan"/> should exceed the queue's wait.
    /// </summary>
    public Task<RequeueResult> RequeueStalledAsync(TimeSpan olderThan, string actor, Func<object, CancellationToken, Task> publish,
        CancellationToken ct = default) =>
        RequeueWhereAsync("j.kind = 'analyze_chunk' and j.updated_at < now() - @OlderThan", new { OlderThan = olderThan }, actor,
            $"chunk jobs stalled for over {olderThan}", publish, ct, StalledStates);

    private static readonly string[] FailedState = ["failed"];
    private static readonly string[] StalledStates = ["enqueued", "retrying", "processing"];

    /// <summary>Requeues every failed job matching the kind/study filter (at most <see cref="BulkLimit"/> at a time).</summary>
    public Task<RequeueResult> RequeueAllFailedAsync(string? kind, string? study, string actor, Func<object, CancellationToken, Task> publish,
        CancellationToken ct = default) =>
        RequeueWhereAsync("true" + FilterSql(new JobFilter("", kind, study)), new { Kind = kind, Study = study }, actor,
            $"failed jobs{(kind is null ? "" : $" of kind {kind}")}{(study is null ? "" : $" of study {study}")}", publish, ct);

    private async Task<RequeueResult> RequeueWhereAsync(string where, object args, string actor, string subject,
        Func<object, CancellationToken, Task> publish, CancellationToken ct, string[]? states = null)
    {
        states ??= FailedState;
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // The studies' locks before the job rows', in the order chunk writes take them (study, then job): the other
        // order deadlocked with a worker writing a chunk that was given up and is being requeued.
        var listed = (await c.QueryAsync<(long Id, long? StudyId, string Kind)>(new CommandDefinition(
            $"select j.id, j.study_id, j.kind from jobs j where j.state = any(@States) and {where} order by j.id limit {bulkLimit + 1}",
            Merge(args, states), tx, cancellationToken: ct))).ToList();
        bool more = listed.Count > bulkLimit;
        if (more) listed.RemoveAt(bulkLimit);
        foreach (var studyId in listed.Where(j => j.Kind == "analyze_chunk").Select(j => j.StudyId).OfType<long>().Distinct().Order())
            await StudyLock.ByStudyAsync(c, tx, studyId, ct);
        var candidates = (await c.QueryAsync<JobRow>(new CommandDefinition(
            JobSelect + $" where j.id = any(@Listed) and j.state = any(@States) and {where} order by j.id for update of j",
            Merge(args, states, listed.Select(j => j.Id).ToArray()), tx, cancellationToken: ct))).ToList();
        var requeued = new List<long>();
        var skipped = new List<(long, string)>();
        var messages = new List<object>();
        // The jobs' enqueued_at below: now() is the transaction's time throughout.
        var queuedAt = await c.ExecuteScalarAsync<DateTime>(new CommandDefinition("select now()", transaction: tx, cancellationToken: ct));
        foreach (var job in candidates)
        {
            var message = MessageFor(job, out var reason, queuedAt);
            if (message is null) { skipped.Add((job.Id, reason!)); continue; }
            messages.Add(message);
            requeued.Add(job.Id);
        }
        await c.ExecuteAsync(new CommandDefinition("""
            update jobs set state = 'enqueued', last_error = null, abandoned_starts = 0, worker_id = null, enqueued_at = now(), started_at = null,
                            finished_at = null, updated_at = now(), published_at = now()
            where id = any(@ids)
            """, new { ids = requeued.ToArray() }, tx, cancellationToken: ct));
        await ReopenImagesAsync(c, tx, candidates.Where(j => requeued.Contains(j.Id) && j.Kind == "analyze_chunk").ToList(), ct);
        if (requeued.Count > 0)
            await AuditLog.RecordAsync(c, tx, actor, AuditLog.RequeueJobs, subject, new { requeued, skipped = skipped.Select(s => s.Item1) }, ct);
        // Concurrently, each waiting for its broker confirm: the studies' locks are held until the commit, and one at a
        // time a bulk requeue of thousands held every chunk write of those studies for as long.
        await Task.WhenAll(messages.Select(message => publish(message, ct)));
        await tx.CommitAsync(ct);
        return new RequeueResult(requeued, skipped, more);
    }

    /// <summary>The filter's arguments with the states (and the listed ids) beside them.</summary>
    private static DynamicParameters Merge(object args, string[] states, long[]? listed = null)
    {
        var merged = new DynamicParameters(args);
        merged.Add("States", states);
        if (listed is not null) merged.Add("Listed", listed);
        return merged;
    }

    /// <summary>
    /// A requeued chunk's failed images are queued again, and their patients and studies are processing again, so
    /// progress counts them as remaining and completion runs (and is announced) once more when they finish. Under the
    /// studies' locks, as registration and completion (the caller takes them).
    /// </summary>
    private static async Task ReopenImagesAsync(NpgsqlConnection c, NpgsqlTransaction tx, IReadOnlyList<JobRow> chunks, CancellationToken ct)
    {
        if (chunks.Count == 0) return;   // the studies' locks are held (RequeueWhereAsync)
        await c.ExecuteAsync(new CommandDefinition("""
            with listed as (
                select distinct on (e::bigint) e::bigint as id, j.id as job
                from jobs j, jsonb_array_elements_text(j.payload -> 'image_ids') e where j.id = any(@Ids) order by e::bigint, j.id desc),
            reopened as (
                -- The requeued chunk takes its failed images back (ResultStore writes only a chunk's own images).
                update images i set state = 'queued', chunk_job_id = listed.job, error = null, error_code = null, result_um_per_px = null,
                    updated_at = now()
                from listed where i.id = listed.id and i.state = 'failed'
                returning i.patient_id, i.study_id),
            patients_reopened as (
                update patients p set state = 'processing', completed_at = null
                where p.id in (select patient_id from reopened) and p.state <> 'processing')
            update studies s set state = 'processing', completed_at = null, updated_at = now()
            where s.id in (select study_id from reopened) and s.state <> 'processing'
            """, new { Ids = chunks.Select(j => j.Id).ToArray() }, tx, cancellationToken: ct));
    }

    /// <summary>The message that puts a job back to work; null (with the reason) for kinds that have none.</summary>
    public static object? MessageFor(JobRow job, out string? reason, DateTime? queuedAt = null)
    {
        reason = null;
        switch (job.Kind)
        {
            case "analyze_chunk":
                using (var doc = JsonDocument.Parse(job.Payload))
                {
                    var root = doc.RootElement;
                    if (job.StudyId is not { } studyId || !root.TryGetProperty("image_ids", out var ids) || ids.ValueKind != JsonValueKind.Array)
                    {
                        reason = "the payload has no image_ids or the job no study";
                        return null;
                    }
                    var reanalyze = root.TryGetProperty("reanalyze", out var r) && r.ValueKind == JsonValueKind.True;
                    return new AnalyzeImages { JobId = job.Id, StudyDbId = studyId, ImageIds = ids.EnumerateArray().Select(e => e.GetInt64()).ToList(), Reanalyze = reanalyze, QueuedAt = queuedAt };
                }
            case "scan_share":
                return new ScanShareNow("requeue");
            default:
                reason = $"jobs of kind {job.Kind} are redone by the pipeline itself and cannot be requeued";
                return null;
        }
    }

    /// <summary>
    /// Marks failed jobs deleted. Rows are kept (state 'deleted') until Worker:KeepHistory has passed (housekeeping),
    /// and the audit log keeps who deleted them. A deleted
    /// chunk's images still unfinished (its fault went unrecorded, the database away) fail as JobDeleted: nothing would
    /// finish them. Their patients are returned, for the caller to ask a worker to complete them (and their study);
    /// otherwise the stranded sweep does, Worker:StrandedAfter later.
    /// </summary>
    public async Task<JobDeletion> DeleteAsync(IReadOnlyCollection<long> jobIds, string actor, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // The studies' locks first, in one order, as registration and chunk writes take them before rows.
        foreach (var study in await c.QueryAsync<long>(new CommandDefinition(
                     "select distinct study_id from jobs where id = any(@ids) and state = 'failed' and study_id is not null order by 1",
                     new { ids = jobIds.ToArray() }, tx, cancellationToken: ct)))
            await StudyLock.ByStudyAsync(c, tx, study, ct);
        var deleted = (await c.QueryAsync<long>(new CommandDefinition(
            "update jobs set state = 'deleted', updated_at = now() where id = any(@ids) and state = 'failed' returning id",
            new { ids = jobIds.ToArray() }, tx, cancellationToken: ct))).Order().ToList();
        var patients = (await c.QueryAsync<long>(new CommandDefinition("""
            update images i set state = 'failed', error_code = 'JobDeleted', updated_at = now(), result_um_per_px = null,
                error = 'Its analysis job was deleted before it finished; resubmit the study to analyse it.'
            from jobs j, jsonb_array_elements_text(case when jsonb_typeof(j.payload -> 'image_ids') = 'array' then j.payload -> 'image_ids' else '[]' end) e
            where j.id = any(@deleted) and j.kind = 'analyze_chunk' and e::bigint = i.id
              and i.state not in ('succeeded', 'failed') and (i.chunk_job_id is null or i.chunk_job_id = j.id)
            returning i.patient_id
            """, new { deleted = deleted.ToArray() }, tx, cancellationToken: ct))).Distinct().Order().ToList();
        if (deleted.Count > 0) await AuditLog.RecordAsync(c, tx, actor, AuditLog.DeleteJobs, "jobs by id", new { deleted }, ct);
        await tx.CommitAsync(ct);
        return new JobDeletion(deleted.Count, patients);
    }

    /// <summary>Sets share_watch.scan_requested_at for every watched root and publishes <see cref="ScanShareNow"/>.</summary>
    public async Task<int> TriggerScanAsync(string requestedBy, Func<object, CancellationToken, Task> publish, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var roots = await c.ExecuteAsync(new CommandDefinition("update share_watch set scan_requested_at = now()", transaction: tx, cancellationToken: ct));
        await publish(new ScanShareNow(requestedBy), ct);
        await tx.CommitAsync(ct);
        return roots;
    }

    private static string FilterSql(JobFilter f) =>
        (f.Kind is null ? "" : " and j.kind = @Kind")
        + (f.Study is null ? "" : " and j.study_id = (select id from studies where external_id = @Study)");
}
