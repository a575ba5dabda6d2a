using System.Diagnostics;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace NfcPipeline.Storage.Migrations;

/// <summary>What one run did.</summary>
/// <param name="UnknownApplied">Versions the database has that the given migrations do not (a newer build applied them).</param>
public sealed record MigrationResult(IReadOnlyList<Migration> Applied, int AlreadyApplied, IReadOnlyList<int> UnknownApplied)
{
    public bool NothingToApply => Applied.Count == 0;
}

/// <summary>
/// Applies plain-SQL migrations in order, each in its own transaction, recorded in schema_migrations with a checksum.
/// A session advisory lock serialises concurrent runners: the second waits, then finds nothing to apply.
/// </summary>
public sealed class MigrationRunner(string connectionString, ILogger<MigrationRunner>? logger = null)
{
    /// <summary>Arbitrary but fixed: 'NFCMIGR' as a 64-bit key, so other advisory locks never collide with it.</summary>
    public const long AdvisoryLockKey = 0x4E46434D49475221;

    private readonly ILogger _logger = logger ?? NullLogger<MigrationRunner>.Instance;

    /// <summary>
    /// How long one try of a migration waits for a lock on a table it changes. Without a limit an ALTER TABLE queued
    /// behind a long transaction (an open psql session) queued every worker's statements on that table behind itself.
    /// </summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Tries of a migration whose lock wait timed out, before the run fails saying why.</summary>
    public int LockAttempts { get; init; } = 6;

    public async Task<MigrationResult> ApplyAsync(IReadOnlyList<Migration> migrations, CancellationToken ct = default)
    {
        await using var connection = SessionLockConnection.Create(connectionString);
        await connection.OpenAsync(ct);
        // No command timeout on the lock or the migrations: another runner may hold the lock while it builds indexes on
        // a large database; ct still cancels.
        await connection.ExecuteAsync(new CommandDefinition("select pg_advisory_lock(@key)", new { key = AdvisoryLockKey },
            commandTimeout: 0, cancellationToken: ct));
        try
        {
            await EnsureHistoryTableAsync(connection, ct);
            var applied = (await connection.QueryAsync<(int Version, string Name, string Checksum)>(
                new CommandDefinition("select version, name, checksum from schema_migrations order by version", cancellationToken: ct)))
                .ToDictionary(r => r.Version);

            VerifyChecksums(migrations, applied);
            var unknownApplied = applied.Keys.Except(migrations.Select(m => m.Version)).Order().ToList();
            foreach (var unknown in unknownApplied)
                _logger.LogWarning("Database has migration {Version:D4} that this build does not know; it was applied by a newer version", unknown);

            var pending = migrations.Where(m => !applied.ContainsKey(m.Version)).ToList();
            RefuseOutOfOrder(pending, applied.Keys);
            foreach (var migration in pending)
                await ApplyOneAsync(connection, migration, ct);
            return new MigrationResult(pending, migrations.Count - pending.Count, unknownApplied);
        }
        finally
        {
            // The lock is the session's: a connection that broke (or a cancel left unusable) released it as it closed,
            // and the unlock's own error ("the connection is broken") must not hide why the migration stopped.
            if (connection.State == System.Data.ConnectionState.Open)
            {
                try { await connection.ExecuteAsync("select pg_advisory_unlock(@key)", new { key = AdvisoryLockKey }); }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException) { }
            }
        }
    }

    private static Task EnsureHistoryTableAsync(NpgsqlConnection connection, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            create table if not exists schema_migrations (
                version      integer primary key,
                name         text not null,
                checksum     text not null,
                applied_at   timestamptz not null default now(),
                execution_ms integer not null
            )
            """, cancellationToken: ct));

    /// <summary>
    /// A pending migration numbered below one already applied would run after it here but before it on a fresh
    /// database, so the two schemas could differ: refused, before anything is applied.
    /// </summary>
    private static void RefuseOutOfOrder(IReadOnlyList<Migration> pending, IEnumerable<int> appliedVersions)
    {
        int newest = appliedVersions.DefaultIfEmpty(0).Max();
        var behind = pending.Where(m => m.Version < newest).Select(m => m.ToString()).ToList();
        if (behind.Count > 0)
            throw new MigrationException(
                $"Refusing to migrate: {string.Join(", ", behind)} {(behind.Count == 1 ? "is" : "are")} numbered below {newest:D4}, " +
                "which this database has already applied; a fresh database would apply them in another order. Renumber them after it.");
    }

    private static void VerifyChecksums(IReadOnlyList<Migration> migrations, Dictionary<int, (int Version, string Name, string Checksum)> applied)
    {
        var tampered = migrations
            .Where(m => applied.TryGetValue(m.Version, out var row) && row.Checksum != m.Checksum)
            .Select(m => $"{m} (applied checksum {applied[m.Version].Checksum[..12]}…, file checksum {m.Checksum[..12]}…)")
            .ToList();
        if (tampered.Count > 0)
            throw new MigrationException(
                "Refusing to migrate: already-applied migrations have changed since they were applied: " +
                string.Join("; ", tampered) + ". Restore the original files and put schema changes in a new migration.");
    }

    private async Task ApplyOneAsync(NpgsqlConnection connection, Migration migration, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await TryApplyOneAsync(connection, migration, ct);
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                if (attempt >= LockAttempts)
                    throw new MigrationException($"Migration {migration} waited {attempt} times {LockTimeout.TotalSeconds:0.#} s for a lock on a " +
                        "table it changes, held by another transaction (an open psql session, a long query?); it was rolled back. " +
                        "End that transaction and start again.", ex);
                _logger.LogWarning("Migration {Migration} waited {Seconds:0.#} s for a table lock held by another transaction; trying again",
                    migration.ToString(), LockTimeout.TotalSeconds);
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
        }
    }

    private async Task TryApplyOneAsync(NpgsqlConnection connection, Migration migration, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        await using var transaction = await connection.BeginTransactionAsync(ct);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition("select set_config('lock_timeout', @Ms, true)",
                new { Ms = $"{Math.Max(1, (long)LockTimeout.TotalMilliseconds)}ms" }, transaction, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition(migration.Sql, transaction: transaction, commandTimeout: 0, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition(
                "insert into schema_migrations (version, name, checksum, execution_ms) values (@Version, @Name, @Checksum, @Ms)",
                new { migration.Version, migration.Name, migration.Checksum, Ms = (int)stopwatch.ElapsedMilliseconds },
                transaction, cancellationToken: ct));
            await transaction.CommitAsync(ct);
        }
        catch (PostgresException ex) when (ex.SqlState != PostgresErrorCodes.LockNotAvailable)
        {
            throw new MigrationException($"Migration {migration} failed and was rolled back: {ex.MessageText} (SQLSTATE {ex.SqlState}).", ex);
        }
        _logger.LogInformation("Applied migration {Migration} in {Ms} ms", migration.ToString(), stopwatch.ElapsedMilliseconds);
    }
}
