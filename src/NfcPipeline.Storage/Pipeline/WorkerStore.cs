using Dapper;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>Worker heartbeats in the workers table (the dashboard's servers page).</summary>
public sealed class WorkerStore(NpgsqlDataSource db)
{
    /// <param name="aliveWithin">How long without a heartbeat this worker still counts as alive to the others.</param>
    public async Task RegisterAsync(string workerId, string host, int pid, string device, string provider, byte[] modelSha,
        TimeSpan? aliveWithin, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into workers (id, host, pid, device, provider, model_sha256, alive_within)
            values (@Id, @Host, @Pid, @Device, @Provider, @Model, @AliveWithin)
            on conflict (id) do update set state = 'running', heartbeat_at = now(), device = excluded.device,
                provider = excluded.provider, model_sha256 = excluded.model_sha256, alive_within = excluded.alive_within
            """, new { Id = workerId, Host = host, Pid = pid, Device = device, Provider = provider, Model = modelSha, AliveWithin = aliveWithin },
            cancellationToken: ct));
    }

    /// <summary>
    /// A workers row of a live worker: not stopped, and heard from within 2 minutes, or within its own longer window (four
    /// of its heartbeat intervals), so one beating once a minute does not show dead between beats.
    /// </summary>
    internal const string Alive = "state <> 'stopped' and heartbeat_at > now() - greatest(alive_within, interval '2 minutes')";

    /// <summary>Other live workers (heartbeat within 2 minutes, or their own longer window) that run a model other than <paramref name="modelSha"/>.</summary>
    public async Task<int> LiveWorkersWithOtherModelsAsync(string workerId, byte[] modelSha, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition($"""
            select count(*)::int from workers
            where id <> @Id and {Alive} and model_sha256 is distinct from @Model
            """, new { Id = workerId, Model = modelSha }, cancellationToken: ct));
    }

    /// <summary>Deletes workers not heard from for <paramref name="keep"/> (every process start adds one); returns how many.</summary>
    public async Task<int> TrimSilentAsync(TimeSpan keep, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(
            "delete from workers where heartbeat_at < now() - @Keep", new { Keep = keep }, cancellationToken: ct));
    }

    /// <summary>Records a heartbeat; false when the worker has no row (never registered, or deleted as silent).</summary>
    public async Task<bool> HeartbeatAsync(string workerId, long imagesProcessed, string lastBatchJson, string state, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return 0 < await connection.ExecuteAsync(new CommandDefinition("""
            update workers set heartbeat_at = now(), images_processed = @Images, last_batch = @LastBatch::jsonb, state = @State where id = @Id
            """, new { Id = workerId, Images = imagesProcessed, LastBatch = lastBatchJson, State = state }, cancellationToken: ct));
    }
}
