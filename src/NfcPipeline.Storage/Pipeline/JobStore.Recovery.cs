using Dapper;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>Chunk jobs left 'processing' with no message anywhere, sent back to the outbox.</summary>
public sealed partial class JobStore
{
    /// <summary>
    /// Sends back to the outbox the chunk jobs processing under <paramref name="workerId"/>, untouched for
    /// <paramref name="olderThan"/>, that none of its consumers holds (<paramref name="inFlight"/>): their message is gone
    /// (a fault unrecorded through a database outage longer than the retries). Queued again now, so a late fault of the
    /// lost attempt, and any stale copy of its message, leave the new one alone. The job ids sent back.
    /// </summary>
    public async Task<IReadOnlyList<long>> RecoverOrphanedAsync(string workerId, IReadOnlyCollection<long> inFlight, TimeSpan olderThan,
        CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var ids = await connection.QueryAsync<long>(new CommandDefinition("""
            update jobs set state = 'retrying', updated_at = now(), enqueued_at = now(), published_at = null, publish_claimed_at = null,
                last_error = 'Its worker lost its message (a fault not recorded through a database outage); sent back to the outbox.'
            where kind = 'analyze_chunk' and state = 'processing' and worker_id = @WorkerId and updated_at < now() - @OlderThan
              and not (id = any(@InFlight))
            returning id
            """, new { WorkerId = workerId, OlderThan = olderThan, InFlight = inFlight.ToArray() }, cancellationToken: ct));
        return ids.Order().ToList();
    }

    /// <summary>
    /// Sends back to the outbox the chunk jobs processing under another worker that is gone (stopped, or silent for a
    /// third of <paramref name="olderThan"/> and past the window it counts as alive in, <paramref name="fresh"/> where it
    /// recorded none: a database outage leaves every heartbeat stale for a while, and live workers' chunks must not be
    /// taken for lost) and untouched for <paramref name="olderThan"/>. The broker redelivers a dead worker's messages at
    /// once, so such a job's message was lost with it (a purged queue, a lost node). Counted as an abandoned start, so
    /// the chunk runs alone next, and is given up at its next start once the count reaches the limit
    /// (<see cref="StartAsync"/>); queued again now, so a stale copy of its message is acknowledged without work.
    /// This worker's own are <see cref="RecoverOrphanedAsync"/>'s. The job ids sent back.
    /// </summary>
    public async Task<IReadOnlyList<long>> RecoverAbandonedAsync(string workerId, TimeSpan olderThan, TimeSpan fresh, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var ids = await connection.QueryAsync<long>(new CommandDefinition("""
            update jobs j set state = 'retrying', updated_at = now(), enqueued_at = now(), published_at = null, publish_claimed_at = null,
                abandoned_starts = j.abandoned_starts + 1,
                last_error = 'Its worker stopped while analysing it, and its message was not delivered again (a purged queue, a lost broker '
                             'node?); sent back to the outbox.'
            where j.kind = 'analyze_chunk' and j.state = 'processing' and j.updated_at < now() - @OlderThan
              and j.worker_id is distinct from @WorkerId
              and not exists (select 1 from workers w where w.id = j.worker_id and w.state = 'running'
                                and w.heartbeat_at > now() - greatest(coalesce(w.alive_within, @Fresh), @OlderThan / 3))
            returning j.id
            """, new { WorkerId = workerId, OlderThan = olderThan, Fresh = fresh }, cancellationToken: ct));
        return ids.Order().ToList();
    }
}
