using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace NfcPipeline.Storage.Share;

/// <summary>
/// A watched root's schedule row in share_watch. Times are UTC, from the database's clock; <see cref="Due"/> compares
/// next_scan_at with that clock too, so workers whose clocks disagree keep one schedule.
/// </summary>
public sealed record ShareWatch(string Root, int IntervalSeconds, DateTime? LastScanAt, DateTime? NextScanAt, DateTime? ScanRequestedAt, bool Due);

/// <summary>What a finished scan found; Error is null when the scan succeeded.</summary>
public sealed record ShareScanOutcome(int FoldersSeen, int StudiesFound, string? Error);

/// <summary>Why a study folder of the share is not being analysed (share_folder_notes); states as the table's check lists them.</summary>
public sealed record ShareFolderNote(string Folder, string State, string Reason);

/// <summary>
/// The watched share's tables: share_scans (one row per scan), share_watch (schedule and trigger-now flag) and
/// share_submissions (what was submitted, with its fingerprint). Parameterised SQL only.
/// </summary>
public sealed class ShareScanStore(string connectionString)
{
    /// <summary>A stable 64-bit advisory-lock key for a root: the first 8 bytes of SHA-256("nfc-share:" + root).</summary>
    public static long LockKey(string root) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("nfc-share:" + root)), 0);

    /// <summary>
    /// Takes the root's session advisory lock without waiting. Null when another watcher holds it; otherwise a lease
    /// that keeps its connection open and unlocks on dispose (a dropped connection releases it too).
    /// </summary>
    public async Task<IAsyncDisposable?> TryLockRootAsync(string root, CancellationToken ct)
    {
        var connection = SessionLockConnection.Create(connectionString);   // other watchers skip the root while it is held
        try
        {
            await connection.OpenAsync(ct);
            var key = LockKey(root);
            if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition("select pg_try_advisory_lock(@key)", new { key }, cancellationToken: ct)))
                return new RootLock(connection, key);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        await connection.DisposeAsync();
        return null;
    }

    /// <summary>
    /// Creates the root's share_watch row, or updates its interval, and returns it. Called every trigger check, so
    /// the row is only written when something changed.
    /// </summary>
    public async Task<ShareWatch> EnsureWatchAsync(string root, int intervalSeconds, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into share_watch (root, interval_seconds) values (@root, @intervalSeconds)
            on conflict (root) do update set interval_seconds = excluded.interval_seconds
             where share_watch.interval_seconds <> excluded.interval_seconds
            """, new { root, intervalSeconds }, cancellationToken: ct));
        return await connection.QuerySingleAsync<ShareWatch>(new CommandDefinition("""
            select root, interval_seconds as IntervalSeconds, last_scan_at as LastScanAt,
                   next_scan_at as NextScanAt, scan_requested_at as ScanRequestedAt,
                   coalesce(next_scan_at <= now(), true) as Due
              from share_watch where root = @root
            """, new { root }, cancellationToken: ct));
    }

    /// <summary>
    /// Whether a scan of the root is due or was asked for, read only (no row written or locked): what every worker asks
    /// every tick before it tries the root's lock. A root without a row yet is due (the lock holder makes the row).
    /// </summary>
    public async Task<bool> ScanWantedAsync(string root, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await connection.ExecuteScalarAsync<bool?>(new CommandDefinition(
            "select coalesce(next_scan_at <= now(), true) or scan_requested_at is not null from share_watch where root = @root",
            new { root }, cancellationToken: ct)) ?? true;
    }

    /// <summary>A scan's row, started now by the database's clock (as are all this store's times).</summary>
    public async Task<long> StartScanAsync(string root, string workerId, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "insert into share_scans (root, worker_id, started_at) values (@root, @workerId, now()) returning id",
            new { root, workerId }, cancellationToken: ct));
    }

    /// <summary>Deletes scans started before <paramref name="keep"/> ago (one every poll interval, some 8,600 a day); returns how many.</summary>
    public async Task<int> TrimScansAsync(TimeSpan keep, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(
            "delete from share_scans where started_at < now() - @Keep", new { Keep = keep }, cancellationToken: ct));
    }

    public async Task FinishScanAsync(long scanId, ShareScanOutcome outcome, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            update share_scans
               set finished_at = now(), folders_seen = @FoldersSeen, studies_found = @StudiesFound, error = @Error
             where id = @scanId
            """, new { scanId, outcome.FoldersSeen, outcome.StudiesFound, outcome.Error }, cancellationToken: ct));
    }

    /// <summary>How many study folders the root's last successful scan saw; null before its first.</summary>
    public async Task<int?> LastFoldersSeenAsync(string root, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await connection.ExecuteScalarAsync<int?>(new CommandDefinition("""
            select folders_seen from share_scans
             where root = @root and finished_at is not null and error is null
             order by started_at desc limit 1   -- indexed; scans of one root do not overlap (its lock)
            """, new { root }, cancellationToken: ct));
    }

    /// <summary>
    /// Records the scan in share_watch, the next one due <paramref name="nextScanIn"/> from now by the database's clock,
    /// and clears the trigger-now flag it served. A request made while the scan ran has a later time than
    /// <paramref name="requestServed"/> and stays set, so it gets its own scan.
    /// </summary>
    public async Task CompleteWatchAsync(string root, TimeSpan nextScanIn, DateTime? requestServed, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            update share_watch
               set last_scan_at = now(), next_scan_at = now() + @nextScanIn,
                   scan_requested_at = case when scan_requested_at <= @requestServed then null else scan_requested_at end
             where root = @root
            """, new { root, nextScanIn, requestServed }, cancellationToken: ct));
    }

    /// <summary>Sets the trigger-now flag of every watched root (what ScanShareNow asks); returns how many.</summary>
    public async Task<int> RequestScanAsync(CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(
            "update share_watch set scan_requested_at = now()", cancellationToken: ct));
    }

    /// <summary>
    /// Folder → fingerprint of everything submitted from this root, less the folders whose registration was refused long
    /// enough ago (null: all of them, as a requested scan retries): a refusal's cause (a mount down for a moment,
    /// permissions, the folder another id came from) can be fixed without any file changing, and the unchanged
    /// fingerprint would otherwise keep the folder from being submitted again. Long enough: <paramref name="retryRefusedAfter"/>,
    /// or as long as the folder has been refused if longer (up to a day), so a folder that stays refused is retried at
    /// doubling intervals, each retry one message more in submit-study_error.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> GetSubmittedFingerprintsAsync(string root, TimeSpan? retryRefusedAfter, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        var rows = await connection.QueryAsync<(string Folder, string Fingerprint)>(new CommandDefinition("""
            select s.folder, s.fingerprint from share_submissions s
             where s.root = @root
               and not exists (select 1 from share_folder_notes n
                                where n.root = s.root and n.folder = s.folder and n.state = 'registration_refused'
                                  -- refused since its last submission: a retry not yet answered is not sent again
                                  and n.last_seen >= s.submitted_at
                                  and (@retrySeconds::float8 is null
                                       or n.last_seen <= now() - greatest(make_interval(secs => @retrySeconds::float8),
                                                                          least(n.last_seen - n.first_seen, interval '1 day'))))
            """, new { root, retrySeconds = retryRefusedAfter?.TotalSeconds }, cancellationToken: ct));
        return rows.ToDictionary(r => r.Folder, r => r.Fingerprint, StringComparer.Ordinal);
    }

    /// <summary>
    /// Records a submission at the database's time, which the refusal notes it is compared with use too, less
    /// <paramref name="publishedFor"/> (how long ago its publish began): a worker's quick refusal can be written before
    /// the publish is confirmed, and dated after the submission it must still count as answering.
    /// </summary>
    public async Task RecordSubmissionAsync(string root, string folder, string fingerprint, string studyId, CancellationToken ct,
        TimeSpan publishedFor = default)
    {
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into share_submissions (root, folder, fingerprint, study_id, submitted_at)
            values (@root, @folder, @fingerprint, @studyId, now() - make_interval(secs => @publishedFor))
            on conflict (root, folder) do update
               set fingerprint = excluded.fingerprint, study_id = excluded.study_id, submitted_at = excluded.submitted_at
            """, new { root, folder, fingerprint, studyId, publishedFor = publishedFor.TotalSeconds }, cancellationToken: ct));
    }

    /// <summary>
    /// Replaces a root's scan notes (states refused, no_marker, waiting) with <paramref name="notes"/>, keeping when each
    /// was first seen; a registration refusal stays while its folder is still in the share (<paramref name="seenFolders"/>).
    /// A scan note replacing a registration refusal (its READY taken away while the cause was fixed, a subfolder unreadable
    /// for a moment) forgets the folder's submission too: the refusal was what had its unchanged files submitted again,
    /// and without either the folder, once ready, was taken as submitted and never registered.
    /// </summary>
    public async Task ReplaceFolderNotesAsync(string root, IReadOnlyList<ShareFolderNote> notes, IReadOnlyCollection<string> seenFolders, CancellationToken ct)
    {
        // Folders whose names are not valid UTF-8 can list alike (M\xfcller and M\xe4ller both as M\uFFFDller); one
        // statement may not upsert a row twice, and that failure stopped every scan of the share.
        notes = notes.DistinctBy(n => n.Folder, StringComparer.Ordinal).ToList();
        await using var connection = await OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            with gone as (
                delete from share_folder_notes
                where root = @root and not (folder = any(@folders))
                  -- a registration refusal goes with its folder; one of a nested folder (nfc enqueue) the scan does not see
                  and (state <> 'registration_refused' or (position('/' in folder) = 0 and not (folder = any(@seen))))
                returning folder, state)
            -- So does its submission: without the refusal, the folder back unchanged (a mount that blipped while it was
            -- refused) counted as submitted and was never registered.
            delete from share_submissions s using gone
            where s.root = @root and s.folder = gone.folder and gone.state = 'registration_refused'
            """, new { root, seen = seenFolders.ToArray(), folders = notes.Select(n => n.Folder).ToArray() }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition("""
            delete from share_submissions s
            where s.root = @root and s.folder = any(@folders)
              and exists (select 1 from share_folder_notes n where n.root = s.root and n.folder = s.folder and n.state = 'registration_refused')
            """, new { root, folders = notes.Select(n => n.Folder).ToArray() }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into share_folder_notes (root, folder, state, reason)
            select @root, f, s, r from unnest(@folders, @states, @reasons) as x(f, s, r)
            on conflict (root, folder) do update set
                -- the state, not its reason, dates it: a waiting folder's reason counts seconds that change every scan
                first_seen = case when share_folder_notes.state = excluded.state then share_folder_notes.first_seen else now() end,
                state = excluded.state, reason = excluded.reason, last_seen = now()
            """, new
            {
                root, folders = notes.Select(n => n.Folder).ToArray(), states = notes.Select(n => n.State).ToArray(),
                reasons = notes.Select(n => n.Reason).ToArray(),
            }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    /// <summary>A folder the worker refused to register (after the scan submitted it); cleared by its next registration.</summary>
    /// <summary>A registration the worker refused, under the study id it was submitted with (<paramref name="studyId"/>).</summary>
    public async Task RecordRegistrationRefusalAsync(string root, string folder, string reason, CancellationToken ct, string? studyId = null)
    {
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into share_folder_notes (root, folder, state, reason, study_id) values (@root, @folder, 'registration_refused', @reason, @studyId)
            on conflict (root, folder) do update set
                first_seen = case when share_folder_notes.state = excluded.state then share_folder_notes.first_seen else now() end,
                state = excluded.state, reason = excluded.reason, study_id = excluded.study_id, last_seen = now()
            """, new { root, folder, reason, studyId }, cancellationToken: ct));
    }

    /// <summary>
    /// Clears the folder's refusal note once a submission of it registered. Given the submission's message id, only a
    /// note from before that registration: an old message moved back from its error queue leaves a newer refusal.
    /// </summary>
    public async Task ClearRegistrationRefusalAsync(string root, string folder, CancellationToken ct, Guid? messageId = null)
    {
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            delete from share_folder_notes
             where root = @root and folder = @folder and state = 'registration_refused'
               and (@messageId::uuid is null
                    or last_seen <= coalesce((select max(registered_at) from study_submissions where message_id = @messageId::uuid), now()))
            """, new { root, folder, messageId }, cancellationToken: ct));
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new NpgsqlConnection(connectionString);
        try { await connection.OpenAsync(ct); }
        catch { await connection.DisposeAsync(); throw; }
        return connection;
    }

    private sealed class RootLock(NpgsqlConnection connection, long key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try { await connection.ExecuteAsync("select pg_advisory_unlock(@key)", new { key }); }
            catch (NpgsqlException) { /* the connection is gone, and with it the lock */ }
            finally { await connection.DisposeAsync(); }
        }
    }
}
