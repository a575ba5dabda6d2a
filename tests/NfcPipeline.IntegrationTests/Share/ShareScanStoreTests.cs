using NfcPipeline.Storage.Share;
using static NfcPipeline.IntegrationTests.Share.ShareWatcherHarness;

namespace NfcPipeline.IntegrationTests.Share;

public class ShareScanStoreTests
{
    [Fact]
    public async Task The_root_lock_is_held_by_one_store_at_a_time_and_freed_on_dispose()
    {
        await using var h = await CreateAsync();
        var first = new ShareScanStore(h.Db.ConnectionString);
        var second = new ShareScanStore(h.Db.ConnectionString);

        var held = await first.TryLockRootAsync("/share/a", default);
        Assert.NotNull(held);
        Assert.Null(await second.TryLockRootAsync("/share/a", default));
        await using (var otherRoot = await second.TryLockRootAsync("/share/b", default)) Assert.NotNull(otherRoot);

        // The lock's session ends with the lease: a pooled connection kept it open, holding the lock whenever its
        // unlock failed without breaking it, until the pool reused the connection.
        var holder = await h.Db.ScalarAsync<int>("""
            select pid from pg_locks where locktype = 'advisory' and granted
              and database = (select oid from pg_database where datname = current_database())
            """);
        await held!.DisposeAsync();
        await Pipeline.PipelineEnvironment.WaitUntilAsync(async () => !await h.Db.ScalarAsync<bool>($"select exists (select 1 from pg_stat_activity where pid = {holder})"),
            TimeSpan.FromSeconds(10));
        await using var after = await second.TryLockRootAsync("/share/a", default);
        Assert.NotNull(after);
    }

    [Fact]
    public async Task A_scan_request_made_during_a_scan_survives_the_completion_of_that_scan()
    {
        await using var h = await CreateAsync();
        var store = new ShareScanStore(h.Db.ConnectionString);
        await store.EnsureWatchAsync("/share", 10, default);
        Assert.Equal(1, await store.RequestScanAsync(default));
        var served = (await store.EnsureWatchAsync("/share", 10, default)).ScanRequestedAt;

        await Task.Delay(10);
        await store.RequestScanAsync(default);
        await store.CompleteWatchAsync("/share", TimeSpan.FromSeconds(10), served, default);
        var afterFirst = await store.EnsureWatchAsync("/share", 10, default);
        Assert.NotNull(afterFirst.ScanRequestedAt);
        Assert.True(afterFirst.ScanRequestedAt > served);

        await store.CompleteWatchAsync("/share", TimeSpan.FromSeconds(10), afterFirst.ScanRequestedAt, default);
        var afterSecond = await store.EnsureWatchAsync("/share", 20, default);
        Assert.Null(afterSecond.ScanRequestedAt);
        Assert.Equal(20, afterSecond.IntervalSeconds);
        Assert.Equal(TimeSpan.FromSeconds(10), afterSecond.NextScanAt!.Value - afterSecond.LastScanAt!.Value);
    }

    [Fact]
    public async Task The_schedule_is_kept_and_judged_by_the_databases_clock_not_the_workers()
    {
        // Workers whose clocks disagree shared next_scan_at: one whose clock ran behind skipped every due scan.
        await using var h = await CreateAsync();
        var store = new ShareScanStore(h.Db.ConnectionString);
        Assert.True((await store.EnsureWatchAsync("/share", 10, default)).Due);   // never scanned

        await store.CompleteWatchAsync("/share", TimeSpan.FromMinutes(5), null, default);
        var scheduled = await store.EnsureWatchAsync("/share", 10, default);
        Assert.False(scheduled.Due);
        // A minute's slack: on a loaded machine seconds pass between the two statements.
        Assert.True(await h.Db.ScalarAsync<bool>(
            "select next_scan_at between now() + interval '240 seconds' and now() + interval '300 seconds' from share_watch"));

        await store.CompleteWatchAsync("/share", TimeSpan.Zero, null, default);
        Assert.True((await store.EnsureWatchAsync("/share", 10, default)).Due);
    }

    [Fact]
    public async Task Submissions_are_kept_per_root_and_folder_with_the_latest_fingerprint()
    {
        await using var h = await CreateAsync();
        var store = new ShareScanStore(h.Db.ConnectionString);

        await store.RecordSubmissionAsync("/share", "s1", "aaa", "S-1", default);
        await store.RecordSubmissionAsync("/share", "s1", "bbb", "S-1", default);
        await store.RecordSubmissionAsync("/other", "s1", "ccc", "S-1", default);

        Assert.Equal(new Dictionary<string, string> { ["s1"] = "bbb" }, await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromMinutes(5), default));
    }

    [Fact]
    public async Task Scans_and_workers_older_than_the_kept_history_are_trimmed_and_newer_ones_kept()
    {
        // One scan row per poll interval (some 8,600 a day a root) and one worker row per process start, for ever.
        await using var h = await CreateAsync();
        var store = new ShareScanStore(h.Db.ConnectionString);
        await using var source = Npgsql.NpgsqlDataSource.Create(h.Db.ConnectionString);
        var workers = new NfcPipeline.Storage.Pipeline.WorkerStore(source);
        await store.StartScanAsync("/share", "old", default);
        await store.StartScanAsync("/share", "new", default);
        await h.Db.ScalarAsync<int>("update share_scans set started_at = now() - case worker_id when 'old' then interval '31 days' else interval '1 day' end returning 1");
        await workers.RegisterAsync("gone:1:0", "gone", 1, "cpu", "CPUExecutionProvider", [1], null, default);
        await workers.RegisterAsync("live:2:0", "live", 2, "cpu", "CPUExecutionProvider", [1], null, default);
        await h.Db.ScalarAsync<int>("update workers set heartbeat_at = now() - interval '31 days' where id = 'gone:1:0' returning 1");

        Assert.Equal(1, await store.TrimScansAsync(TimeSpan.FromDays(30), default));
        Assert.Equal(1, await workers.TrimSilentAsync(TimeSpan.FromDays(30), default));

        Assert.Equal("new", await h.Db.ScalarAsync<string>("select string_agg(worker_id, ',') from share_scans"));
        Assert.Equal("live:2:0", await h.Db.ScalarAsync<string>("select string_agg(id, ',') from workers"));
    }

    [Fact]
    public async Task A_folder_whose_registration_was_refused_counts_as_unsubmitted_after_the_retry_interval_or_when_asked()
    {
        await using var h = await CreateAsync();
        var store = new ShareScanStore(h.Db.ConnectionString);
        await store.RecordSubmissionAsync("/share", "refused", "aaa", "S-1", default);
        await store.RecordSubmissionAsync("/share", "fine", "bbb", "S-2", default);
        await h.Db.ScalarAsync<int>("update share_submissions set submitted_at = now() - interval '3 hours' returning 1");
        await store.RecordRegistrationRefusalAsync("/share", "refused", "the folder cannot be read", default);

        // Refused just now: not yet retried at the interval, retried by a requested scan (null).
        Assert.Equal(["fine", "refused"], (await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromMinutes(5), default)).Keys.Order());
        Assert.Equal(["fine"], (await store.GetSubmittedFingerprintsAsync("/share", null, default)).Keys);

        await h.Db.ScalarAsync<int>("update share_folder_notes set last_seen = now() - interval '6 minutes' returning 1");
        Assert.Equal(["fine"], (await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromMinutes(5), default)).Keys);

        // Refused for an hour already: retried an hour after its last refusal, not every interval.
        await h.Db.ScalarAsync<int>("update share_folder_notes set first_seen = now() - interval '66 minutes' returning 1");
        Assert.Equal(["fine", "refused"], (await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromMinutes(5), default)).Keys.Order());
        await h.Db.ScalarAsync<int>("update share_folder_notes set first_seen = now() - interval '121 minutes', last_seen = now() - interval '61 minutes' returning 1");
        Assert.Equal(["fine"], (await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromMinutes(5), default)).Keys);

        // Submitted again and not yet answered: not sent again, however old the refusal (a scan every 10 s would).
        await store.RecordSubmissionAsync("/share", "refused", "aaa", "S-1", default);
        Assert.Equal(["fine", "refused"], (await store.GetSubmittedFingerprintsAsync("/share", null, default)).Keys.Order());

        // Refused while its publish was still being confirmed: the refusal answers that submission.
        await store.RecordRegistrationRefusalAsync("/share", "refused", "the folder cannot be read", default);
        await store.RecordSubmissionAsync("/share", "refused", "aaa", "S-1", default, publishedFor: TimeSpan.FromMinutes(2));
        Assert.Equal(["fine"], (await store.GetSubmittedFingerprintsAsync("/share", null, default)).Keys);

        // Registered at last: the note is cleared, and the folder's submission counts again.
        await store.ClearRegistrationRefusalAsync("/share", "refused", default);
        Assert.Equal(2, (await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromMinutes(5), default)).Count);
    }
}
