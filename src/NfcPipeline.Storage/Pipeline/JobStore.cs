using System.Text.Json;
using Dapper;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>
/// A chunk's fault after its retries: the exception summary, when it faulted (the faulting worker's clock), the
/// job's enqueued_at its message was published under (<see cref="JobStore.MarkFailedAsync(long, string, DateTime, CancellationToken, DateTime?, string?)"/>)
/// and how the ids of the faulting process's workers begin (null where the fault does not say).
/// </summary>
public sealed record ChunkFault(string Error, DateTime FaultedAt, DateTime? QueuedAt, string? FaultedBy = null);

/// <summary>
/// An analysis chunk as stored in jobs, and as published. <see cref="PublishClaim"/>: the claim under which it is
/// being published (jobs.publish_claimed_at); only that claim's holder stamps it published or releases it.
/// </summary>
public sealed record ChunkJob(long JobId, long StudyId, IReadOnlyList<long> ImageIds, bool Reanalyze)
{
    public DateTime? PublishClaim { get; init; }

    /// <summary>The job's enqueued_at when it was claimed for publishing (AnalyzeImages.QueuedAt).</summary>
    public DateTime? QueuedAt { get; init; }
}

/// <summary>
/// What claiming a chunk found. <see cref="GivenUp"/>: too many workers stopped while analysing it; it is failed now.
/// <see cref="Failed"/>: it was failed before (given up, or after its retries); only a requeue runs it again.
/// </summary>
/// <summary>
/// How a chunk's start went. StartedAlone: started, after an earlier start its worker abandoned (it runs alone).
/// Superseded: the message is older than the job's latest queueing (a requeue, a wait for the share), whose own message
/// runs it; this one is acknowledged without work.
/// </summary>
public enum JobStart { Started, AlreadyDone, Deleted, Unknown, GivenUp, Failed, StartedAlone, Superseded }

/// <summary>
/// Job state for analysis chunks. jobs doubles as the outbox: jobs are committed, then published and stamped
/// published_at; <see cref="ClaimUnpublishedAsync"/> finds those a crash or broker outage left behind.
/// </summary>
public sealed partial class JobStore(NpgsqlDataSource db)
{
    private sealed record Payload(long[] image_ids, bool reanalyze);

    public async Task<IReadOnlyList<ChunkJob>> CreateChunksAsync(long studyId, IReadOnlyList<long> imageIds, int chunkSize, bool reanalyze, CancellationToken ct)
    {
        // One transaction under the study's lock, as registration: chunks whose images were not yet given to them
        // would be published, load nothing and succeed, leaving the images queued.
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await StudyLock.ByStudyAsync(connection, tx, studyId, ct);
        var chunks = await InsertChunksAsync(connection, tx, studyId, imageIds, chunkSize, reanalyze, ct);
        await tx.CommitAsync(ct);
        return chunks;
    }

    /// <summary>Inserts the chunk jobs of <paramref name="imageIds"/> on the caller's connection and transaction.</summary>
    internal static async Task<IReadOnlyList<ChunkJob>> InsertChunksAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, long studyId,
        IReadOnlyList<long> imageIds, int chunkSize, bool reanalyze, CancellationToken ct)
    {
        var chunks = imageIds.Chunk(Math.Max(1, chunkSize)).ToList();
        if (chunks.Count == 0) return [];
        var payloads = chunks.Select(c => JsonSerializer.Serialize(new Payload(c, reanalyze))).ToArray();
        // Created claimed by their publisher (see MarkPublishedAsync); a claim its process dies holding expires. Stamped
        // with the clock, not the transaction's start: a registration that waited on a study lock would otherwise commit
        // a claim already past its lease, and an outbox pass would publish the chunks a second time.
        // Paired with their chunks by each chunk's first image (distinct), not by the order RETURNING happens to keep.
        var returned = (await connection.QueryAsync<(long Id, DateTime Claim, long FirstImage, DateTime QueuedAt)>(new CommandDefinition("""
            insert into jobs (kind, study_id, payload, enqueued_at, publish_claimed_at)
            select 'analyze_chunk', @StudyId, p::jsonb, clock_timestamp(), clock_timestamp() from unnest(@Payloads) with ordinality as t(p, n)
            order by n returning id, publish_claimed_at, (payload -> 'image_ids' ->> 0)::bigint, enqueued_at
            """, new { StudyId = studyId, Payloads = payloads }, tx, cancellationToken: ct))).ToDictionary(r => r.FirstImage);
        var rows = chunks.Select(c => returned[c[0]]).ToList();
        var ids = rows.Select(r => r.Id).ToList();
        // Each image now belongs to its new chunk (ResultStore writes only the images a chunk owns).
        var owners = ids.Zip(chunks).SelectMany(p => p.Second.Select(image => (Image: image, Job: p.First))).ToList();
        await connection.ExecuteAsync(new CommandDefinition("""
            update images i set chunk_job_id = x.job from unnest(@Images, @Jobs) as x(image, job) where i.id = x.image
            """, new { Images = owners.Select(o => o.Image).ToArray(), Jobs = owners.Select(o => o.Job).ToArray() }, tx, cancellationToken: ct));
        return rows.Zip(chunks, (row, chunk) => new ChunkJob(row.Id, studyId, chunk, reanalyze) { PublishClaim = row.Claim, QueuedAt = row.QueuedAt }).ToList();
    }

    /// <summary>
    /// Stamps chunks published once the broker confirmed them, each only while it is still under the claim it was
    /// published with: a chunk whose message a worker already took, then sent back to the outbox (its claim cleared,
    /// <see cref="MarkRetryingAsync"/>), must stay unpublished, or no outbox pass would ever publish it again.
    /// </summary>
    public async Task MarkPublishedAsync(IReadOnlyCollection<ChunkJob> chunks, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            update jobs j set published_at = now(), publish_claimed_at = null
            from unnest(@Ids, @Claims) as c(id, claim) where j.id = c.id and j.publish_claimed_at = c.claim
            """, ClaimArguments(chunks), cancellationToken: ct));
    }

    private static object ClaimArguments(IReadOnlyCollection<ChunkJob> chunks)
    {
        if (chunks.Any(c => c.PublishClaim is null))
            throw new ArgumentException("Only chunks claimed for publishing (created or claimed by this store) can be stamped or released.", nameof(chunks));
        return new { Ids = chunks.Select(c => c.JobId).ToArray(), Claims = chunks.Select(c => c.PublishClaim!.Value).ToArray() };
    }

    /// <summary>
    /// Claims enqueued jobs left unpublished for <paramref name="olderThan"/>, so two dispatchers never publish one job
    /// at once. The claim is not the publish: <see cref="MarkPublishedAsync"/> stamps the job once the broker has it,
    /// <see cref="ReleaseAsync"/> undoes a claim whose publish failed, and a claim older than <paramref name="claimLease"/>
    /// (its dispatcher died between claim and publish) is taken again.
    /// </summary>
    public async Task<IReadOnlyList<ChunkJob>> ClaimUnpublishedAsync(TimeSpan olderThan, TimeSpan claimLease, int limit, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<(long Id, long StudyId, string Payload, DateTime Claim, DateTime QueuedAt)>(new CommandDefinition("""
            update jobs set publish_claimed_at = now() where id in (
                select id from jobs
                where published_at is null and state in ('enqueued', 'retrying') and kind = 'analyze_chunk' and enqueued_at < now() - @Age
                  and (publish_claimed_at is null or publish_claimed_at < now() - @Lease)
                order by enqueued_at limit @Limit for update skip locked)
            returning id, study_id, payload::text, publish_claimed_at, enqueued_at
            """, new { Age = olderThan, Lease = claimLease, Limit = limit }, cancellationToken: ct));
        // A payload this version cannot read keeps its claim and is left out, rather than stopping every pass.
        return rows.Select(r =>
        {
            Payload? p;
            try { p = JsonSerializer.Deserialize<Payload>(r.Payload); }
            catch (JsonException) { p = null; }
            return p?.image_ids is { } ids ? new ChunkJob(r.Id, r.StudyId, ids, p.reanalyze) { PublishClaim = r.Claim, QueuedAt = r.QueuedAt } : null;
        }).OfType<ChunkJob>().ToList();
    }

    /// <summary>Gives up the claims of chunks whose publish failed, so the next outbox pass takes them (only claims still held).</summary>
    public async Task ReleaseAsync(IReadOnlyCollection<ChunkJob> chunks, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            update jobs j set publish_claimed_at = null
            from unnest(@Ids, @Claims) as c(id, claim) where j.id = c.id and j.published_at is null and j.publish_claimed_at = c.claim
            """, ClaimArguments(chunks), cancellationToken: ct));
    }

    /// <summary>
    /// Claims a chunk for a worker. A redelivered chunk whose results were committed is reported done, and one failed
    /// before is not started again (a duplicate of its message; a requeue sets it enqueued first). A chunk found
    /// still processing under another worker was abandoned by it (that process stopped mid-chunk); the
    /// <paramref name="maxAbandonedStarts"/>-th such start gives it up instead: the job fails with the reason. So does
    /// the start after an outbox pass counted the limit's last (<see cref="RecoverAbandonedAsync"/>).
    /// </summary>
    /// <param name="liveHolder">
    /// Where given: a job that another worker started within the window it counts as alive in (its workers.alive_within;
    /// this one where it recorded none), and whose heartbeat is that fresh, was not abandoned (two deliveries of one
    /// message starting together); the later start takes it over uncounted.
    /// </param>
    /// <param name="message">
    /// Where given, the study and images the message names: a job that is not that study's chunk of exactly those images
    /// is <see cref="JobStart.Unknown"/> and left as it is (a stray or hand-made message, or one from another deployment
    /// on the same broker, would otherwise mark it done with nothing written).
    /// </param>
    public async Task<JobStart> StartAsync(long jobId, string workerId, int maxAbandonedStarts, CancellationToken ct, TimeSpan? liveHolder = null,
        (long StudyId, IReadOnlyList<long> ImageIds)? message = null, DateTime? queuedAt = null)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var state = await connection.ExecuteScalarAsync<string?>(new CommandDefinition($"""
            with prev as (
                select j.id, {FinishedSql} as finished, not {FinishedSql} and {SupersededSql} as superseded,
                       {AbandonedSql} and not {SupersededSql} as abandoned, j.abandoned_starts, j.state
                from jobs j where j.id = @JobId
                  and (not @Check or j.kind = 'analyze_chunk' and j.study_id = @StudyId and j.payload -> 'image_ids' = to_jsonb(@ImageIds))
                for update of j),
            -- From prev's row, the one it locked (as a concurrent start left it): a second scan of jobs would read the
            -- statement's snapshot, from before that start counted its abandoned start.
            next as (
                select prev.id, prev.finished or prev.superseded as finished, prev.superseded, prev.abandoned,
                       -- Counted now, or before by an outbox pass that sent it back (JobStore.Recovery), to the limit.
                       prev.abandoned and prev.abandoned_starts + 1 >= @MaxAbandoned
                       or prev.state <> 'processing' and not prev.finished and not prev.superseded
                          and prev.abandoned_starts >= @MaxAbandoned as give_up
                from prev)
            update jobs j set
                state = case when next.finished then j.state when next.give_up then 'failed' else 'processing' end,
                abandoned_starts = j.abandoned_starts + case when next.abandoned then 1 else 0 end,
                attempts = j.attempts + case when next.finished or next.give_up then 0 else 1 end,
                started_at = case when next.finished or next.give_up then j.started_at else now() end,
                worker_id = case when next.finished or next.give_up then j.worker_id else @WorkerId end,
                finished_at = case when next.give_up then now() else j.finished_at end,
                last_error = case when next.give_up then format(
                    'Started %s times; each time its worker stopped before finishing it (a crash, or killed for memory?). '
                    'Not started again: its images failed as WorkerStopped. Requeue the job to try again.',
                    j.abandoned_starts + case when next.abandoned then 1 else 0 end)
                    else j.last_error end,
                -- A superseded message leaves the job as it is: unpublished, its own message is still the outbox's to send.
                published_at = case when next.superseded then j.published_at else coalesce(j.published_at, now()) end,
                updated_at = case when next.superseded then j.updated_at else now() end
            from next where j.id = next.id
            returning case when next.give_up then 'given_up' when next.superseded then 'superseded'
                           when j.state = 'processing' and j.abandoned_starts > 0 then 'alone' else j.state end
            """, new
            {
                JobId = jobId, WorkerId = workerId, MaxAbandoned = maxAbandonedStarts, LiveHolder = liveHolder,
                Check = message is not null, StudyId = message?.StudyId ?? 0, ImageIds = message?.ImageIds.ToArray() ?? [],
                QueuedAt = Utc(queuedAt),
            }, cancellationToken: ct));
        return state switch
        {
            null => JobStart.Unknown,
            "succeeded" => JobStart.AlreadyDone,
            "deleted" => JobStart.Deleted,
            "given_up" => JobStart.GivenUp,
            "failed" => JobStart.Failed,
            "alone" => JobStart.StartedAlone,
            "superseded" => JobStart.Superseded,
            _ => JobStart.Started,
        };
    }

    private const string FinishedSql = "(j.state in ('succeeded', 'deleted', 'failed'))";

    /// <summary>Processing under another worker that is not alive (judged by the window it recorded): it stopped mid-chunk.</summary>
    private const string AbandonedSql = """
        (j.state = 'processing' and j.worker_id is distinct from @WorkerId
         and not (@LiveHolder::interval is not null
                  and exists (select 1 from workers w where w.id = j.worker_id and w.state = 'running'
                              and j.started_at > now() - coalesce(w.alive_within, @LiveHolder::interval)
                              and w.heartbeat_at > now() - coalesce(w.alive_within, @LiveHolder::interval))))
        """;

    /// <summary>
    /// The message was published for an earlier queueing of the job than its latest (a millisecond's slack, in case a
    /// serializer rounds the time).
    /// </summary>
    private const string SupersededSql = "(@QueuedAt::timestamptz is not null and j.enqueued_at > @QueuedAt::timestamptz + interval '1 millisecond')";

    /// <summary>UTC as sent: a time without a zone (a serializer that dropped the Z) is the database's UTC, not local time.</summary>
    private static DateTime? Utc(DateTime? at) => at switch
    {
        null => null,
        { Kind: DateTimeKind.Local } t => t.ToUniversalTime(),
        { } t => DateTime.SpecifyKind(t, DateTimeKind.Utc),
    };

    /// <summary>
    /// Whether the chunk is to run alone (<see cref="JobStart.StartedAlone"/>), asked before its start: a worker stopped
    /// while analysing it before, or it is processing under one that stopped now. Read only: a chunk that waits for its
    /// turn is not yet processing under this worker, so a crash of the lone one is not counted against it.
    /// </summary>
    public async Task<bool> RunsAloneAsync(long jobId, string workerId, TimeSpan liveHolder, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition($"""
            select not {FinishedSql} and (j.abandoned_starts > 0 or {AbandonedSql}) from jobs j where j.id = @JobId
            """, new { JobId = jobId, WorkerId = workerId, LiveHolder = liveHolder }, cancellationToken: ct));
    }

    /// <summary>
    /// The last heartbeat of the worker the job is processing under, how long that worker counts as alive without one
    /// (its workers.alive_within; <paramref name="fresh"/> where it recorded none) and how long it has held the job (the
    /// database's clock since it started it), when that is another worker, still running, whose heartbeat is within
    /// that; otherwise null.
    /// </summary>
    public async Task<(DateTime HeartbeatAt, TimeSpan AliveWithin, TimeSpan HeldFor)?> HolderHeartbeatAsync(long jobId, string workerId,
        TimeSpan fresh, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<(DateTime, TimeSpan, TimeSpan)>(new CommandDefinition("""
            select w.heartbeat_at, coalesce(w.alive_within, @Fresh), greatest(now() - coalesce(j.started_at, now()), interval '0')
            from jobs j join workers w on w.id = j.worker_id
            where j.id = @JobId and j.state = 'processing' and j.worker_id <> @WorkerId
              and w.state = 'running' and w.heartbeat_at > now() - coalesce(w.alive_within, @Fresh)
            """, new { JobId = jobId, WorkerId = workerId, Fresh = fresh }, cancellationToken: ct));
        return rows.Select(row => ((DateTime, TimeSpan, TimeSpan)?)row).SingleOrDefault();
    }

    /// <summary>
    /// Why a failed job failed, and whether it was given up by <see cref="StartAsync"/> (whose reason, written above, a
    /// failed job keeps: <see cref="MarkFailedAsync"/> leaves it).
    /// </summary>
    public async Task<(string Error, bool GivenUp)> FailureAsync(long jobId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<(string? Error, bool GivenUp)>(new CommandDefinition(
            "select last_error, coalesce(last_error like 'Started % times;%', false) from jobs where id = @JobId",
            new { JobId = jobId }, cancellationToken: ct));
        return (row.Error ?? "failed", row.GivenUp);
    }

    /// <summary>
    /// A chunk that will not be retried: the job shows failed with the exception summary (unless already failed). A fault
    /// of a message published before the job was last queued is an earlier attempt's, delivered late: it leaves a
    /// requeue made since in place, rather than failing the job again. Told by the message's <paramref name="queuedAt"/>
    /// (the job's enqueued_at when published, the database's clock); for a message without it, by when it faulted
    /// (<paramref name="faultedAt"/>, the faulting worker's clock, with a minute for the clocks to differ).
    /// </summary>
    public async Task MarkFailedAsync(long jobId, string error, DateTime faultedAt, CancellationToken ct, DateTime? queuedAt = null,
        string? faultedBy = null)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await MarkFailedAsync(connection, null, new ChunkFault(error, faultedAt, queuedAt, faultedBy), jobId, ct);
    }

    /// <summary><see cref="MarkFailedAsync(long, string, DateTime, CancellationToken, DateTime?, string?)"/> in the caller's transaction.</summary>
    internal static Task MarkFailedAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, ChunkFault fault, long jobId, CancellationToken ct)
    {
        var (error, faultedAt, queuedAt, faultedBy) = fault;
        return connection.ExecuteAsync(new CommandDefinition("""
            update jobs set state = 'failed', last_error = @Error, finished_at = now(), updated_at = now()
            -- An operator's deletion stays on record, and a failed job keeps its first reason (a give-up's, which tells
            -- a redelivered message its images' error code).
            where id = @JobId and state not in ('succeeded', 'deleted', 'failed')
              -- A fault of a delivery that never held the job (a redelivered copy that waited, through a database outage,
              -- while another worker ran it) leaves it to that worker while it is alive: it writes or faults it itself.
              and not (@FaultedBy::text is not null and state = 'processing' and not starts_with(worker_id, @FaultedBy::text)
                       and exists (select 1 from workers w where w.id = jobs.worker_id and w.state = 'running'
                                   and w.heartbeat_at > now() - coalesce(w.alive_within, interval '5 minutes')))
              and case when @QueuedAt::timestamptz is not null then enqueued_at <= @QueuedAt::timestamptz + interval '1 millisecond'
                       else enqueued_at <= @FaultedAt + interval '1 minute' end
            """, new
            {
                JobId = jobId, Error = error.Length > 4000 ? error[..4000] : error, FaultedAt = DateTime.SpecifyKind(faultedAt, DateTimeKind.Utc),
                QueuedAt = Utc(queuedAt), FaultedBy = faultedBy,
            }, tx, cancellationToken: ct));
    }

    /// <summary>
    /// Deletes jobs finished for <paramref name="keep"/> that ran or were deleted (a chunk per 8 images, an aggregation
    /// per patient: the table otherwise only grows); failed jobs stay until requeued or deleted. A few thousand rows per
    /// statement, so no delete holds the table long. Returns how many.
    /// </summary>
    public async Task<int> TrimFinishedAsync(TimeSpan keep, CancellationToken ct, int perStatement = 5000)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        int total = 0, deleted;
        do
        {
            deleted = await connection.ExecuteAsync(new CommandDefinition("""
                delete from jobs where id in (
                    select id from jobs where state in ('succeeded', 'deleted') and updated_at < now() - @Keep limit @PerStatement)
                """, new { Keep = keep, PerStatement = perStatement }, cancellationToken: ct));
            total += deleted;
        } while (deleted == perStatement);
        return total;
    }

    /// <summary>
    /// A chunk this worker gave up: the job shows retrying with the reason, unless another worker has claimed it since.
    /// <paramref name="backToOutbox"/>: its message was acknowledged, so the job goes back to the outbox (unpublished,
    /// unclaimed) for a worker's outbox pass to publish again; otherwise the broker redelivers the message.
    /// <paramref name="republishLater"/>: it counts as enqueued now, so the outbox publishes it only after its
    /// republish delay (a chunk waiting for the share would otherwise come back at every pass).
    /// </summary>
    public async Task MarkRetryingAsync(long jobId, string workerId, string reason, bool backToOutbox, CancellationToken ct,
        bool republishLater = false)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            update jobs set state = 'retrying', last_error = @Reason, updated_at = now(),
                published_at = case when @BackToOutbox then null else published_at end,
                publish_claimed_at = case when @BackToOutbox then null else publish_claimed_at end,
                enqueued_at = case when @BackToOutbox and @RepublishLater then now() else enqueued_at end
            where id = @JobId and state = 'processing' and worker_id = @WorkerId
            """, new { JobId = jobId, WorkerId = workerId, Reason = reason.Length > 4000 ? reason[..4000] : reason, BackToOutbox = backToOutbox,
                RepublishLater = republishLater },
            cancellationToken: ct));
    }
}
