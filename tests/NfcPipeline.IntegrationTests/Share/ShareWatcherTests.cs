using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NfcPipeline.Contracts;
using NfcPipeline.Intake.Share;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Share;
using static NfcPipeline.IntegrationTests.Share.ShareWatcherHarness;

namespace NfcPipeline.IntegrationTests.Share;

public class ShareWatcherTests
{
    [Fact]
    public async Task A_time_span_given_as_a_bare_number_is_refused_at_start()
    {
        // "30" binds as 30 days: every study would wait a month before it was submitted.
        await using var h = await CreateAsync();
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(
            () => h.StartWatcherAsync(new() { ["Share:SettleTime"] = "30" }));
        Assert.Contains("Share:SettleTime must be 0 to a day", error.Message);
    }

    [Fact]
    public async Task A_ready_study_is_published_exactly_once_with_its_study_id_and_folder()
    {
        await using var h = await CreateAsync();
        h.AddSettledStudy($"{h.Token}-by-manifest", manifestStudyId: $"{h.Token}-S1");
        h.AddSettledStudy($"{h.Token}-by-marker");
        Directory.CreateDirectory(Path.Combine(h.Root, $"{h.Token}-unmarked"));

        await h.StartWatcherAsync();
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count >= 2), "both studies published");
        await h.WaitForMoreScansAsync(5);

        Assert.Equal(
            [($"{h.Token}-S1", $"{h.Token}-by-manifest"), ($"{h.Token}-by-marker", $"{h.Token}-by-marker")],
            h.Recorder.Messages.Select(m => (m.StudyId, m.FolderPath)).Order());
        Assert.Equal(2L, await h.Db.ScalarAsync<long>("select count(*) from share_submissions"));
        // The root as this watcher keys its notes: a worker that reaches the share by another path notes a refusal under it.
        Assert.All(h.Recorder.Messages, m => Assert.Equal(NfcPipeline.Worker.Share.ShareWatcherService.NormaliseRoot(h.Root), m.ShareRootKey));
        Assert.Equal($"{h.Token}-S1", await h.Db.ScalarAsync<string>($"select study_id from share_submissions where folder = '{h.Token}-by-manifest'"));
        Assert.Equal(2L, await h.Db.ScalarAsync<long>("select sum(studies_found) from share_scans"));
        Assert.Equal(3, await h.Db.ScalarAsync<int>("select max(folders_seen) from share_scans"));
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_scans where error is not null"));
        Assert.True(await h.Db.ScalarAsync<bool>("select last_scan_at is not null and next_scan_at > last_scan_at from share_watch"));
    }

    [Fact]
    public async Task Folders_not_submitted_are_noted_with_their_reason_until_they_are()
    {
        await using var h = await CreateAsync();
        Directory.CreateDirectory(Path.Combine(h.Root, $"{h.Token}-unmarked"));
        var broken = h.AddSettledStudy($"{h.Token}-broken", manifestStudyId: "x");
        ShareWatcherHarness.WriteOld(Path.Combine(broken, "study.json"), "{ not json");

        await h.StartWatcherAsync();
        Task<string?> Notes() => h.Db.ScalarAsync<string>(
            "select coalesce(string_agg(folder || ' ' || state, '|' order by folder), '') from share_folder_notes");
        // The broken manifest is read once the folder has settled (first seen by this worker: one settle time).
        await Eventually(async () => await Notes() == $"{h.Token}-broken refused|{h.Token}-unmarked no_marker", "both folders noted");
        Assert.Contains("study.json", await h.Db.ScalarAsync<string>($"select reason from share_folder_notes where folder = '{h.Token}-broken'"));

        // Fixed and marked: both are submitted, and their notes go.
        ShareWatcherHarness.WriteOld(Path.Combine(broken, "study.json"), $$"""{"study_id":"{{h.Token}}-fixed"}""");
        ShareWatcherHarness.WriteOld(Path.Combine(h.Root, $"{h.Token}-unmarked", "P001", "L2", "field1.jpg"), "image");
        ShareWatcherHarness.WriteOld(Path.Combine(h.Root, $"{h.Token}-unmarked", "READY"), "");
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 2), "both folders submitted");
        await h.WaitForMoreScansAsync(1);
        Assert.Equal("", await Notes());
    }

    [Fact]
    public async Task A_study_still_being_written_is_not_published_until_it_settles()
    {
        await using var h = await CreateAsync();
        var folder = h.AddSettledStudy($"{h.Token}-copying");
        var growing = Path.Combine(folder, "P001", "L2", "field0.jpg");
        using var copying = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            while (!copying.IsCancellationRequested)
            {
                File.SetLastWriteTimeUtc(growing, DateTime.UtcNow);
                await Task.Delay(100);
            }
        });

        // A settle time of 3 s against a write every 100 ms: a stalled test thread (two busy cores) does not settle it.
        // 25 scans at 200 ms outlast the settle time, so a study that settled in spite of the writes would be published.
        await h.StartWatcherAsync(new() { ["Share:SettleTime"] = "00:00:03" });
        await h.WaitForMoreScansAsync(25, seconds: 90);   // 5 s of scans alone; much longer with the whole suite running beside
        Assert.Empty(h.Recorder.Messages);
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_submissions"));

        await copying.CancelAsync();
        await writer;
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "the settled study published");
        Assert.Equal($"{h.Token}-copying", h.Recorder.Messages[0].StudyId);
    }

    [Fact]
    public async Task A_study_changed_after_submission_is_submitted_again()
    {
        await using var h = await CreateAsync();
        var folder = h.AddSettledStudy($"{h.Token}-grows");
        await h.StartWatcherAsync();
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "first submission");
        var firstFingerprint = await h.Db.ScalarAsync<string>("select fingerprint from share_submissions");

        WriteOld(Path.Combine(folder, "P002", "L4", "late.jpg"), "late image");
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 2), "resubmission after the change");
        await h.WaitForMoreScansAsync(3);

        Assert.Equal(2, h.Recorder.Messages.Count);
        Assert.All(h.Recorder.Messages, m => Assert.Equal($"{h.Token}-grows", m.StudyId));
        Assert.Contains(h.Log.Lines, l => l.Contains($"folder {h.Token}-grows: ") && l.EndsWith(", new", StringComparison.Ordinal));
        await Eventually(() => Task.FromResult(h.Log.Lines.Any(l => l.Contains($"folder {h.Token}-grows: ") && l.EndsWith(", changed since its last submission", StringComparison.Ordinal))),
            "the resubmission logged as a change");
        Assert.NotEqual(firstFingerprint, await h.Db.ScalarAsync<string>("select fingerprint from share_submissions"));
    }

    [Fact]
    public async Task A_folder_whose_registration_was_refused_is_submitted_again_unchanged_after_the_retry_interval()
    {
        // The worker refused it (a mount down for a moment, say); nothing in the folder changes once that is fixed.
        await using var h = await CreateAsync();
        var folder = $"{h.Token}-refused";
        h.AddSettledStudy(folder);
        await h.StartWatcherAsync(new() { ["Share:RefusedRetryInterval"] = "00:00:02" });
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "first submission");
        var root = await h.Db.ScalarAsync<string>("select root from share_watch");
        await new ShareScanStore(h.Db.ConnectionString).RecordRegistrationRefusalAsync(root!, folder, "the folder cannot be read", default);

        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 2), "submitted again after the retry interval");
        Assert.All(h.Recorder.Messages, m => Assert.Equal(folder, m.FolderPath));
        // Logged as what it is (it said "resubmission False"), once its submission is recorded.
        await Eventually(() => Task.FromResult(h.Log.Lines.Any(l => l.Contains($"folder {folder}: ") && l.EndsWith(", a retry of a refused registration", StringComparison.Ordinal))),
            "the retry logged as one");
    }

    [Fact]
    public async Task Setting_scan_requested_at_triggers_an_immediate_scan_and_is_cleared()
    {
        await using var h = await CreateAsync();
        await h.StartWatcherAsync(new() { ["Share:PollInterval"] = "01:00:00" });
        await Eventually(async () => await h.ScanCountAsync() == 1, "the first scan at start-up");
        h.AddSettledStudy($"{h.Token}-late");
        await Task.Delay(1000);
        Assert.Equal(1L, await h.ScanCountAsync());
        Assert.Empty(h.Recorder.Messages);

        await h.Db.ScalarAsync<int>("update share_watch set scan_requested_at = now()");

        // The requested scan sees the study for the first time; the next scan is due when it has settled (0.5 s), not
        // at the hour's poll.
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "the study published once it settled", seconds: 60);
        await Eventually(async () => await h.ScanCountAsync() == 3, "the requested scan and the settled one recorded", seconds: 60);
        await Eventually(async () => await h.Db.ScalarAsync<bool>("select scan_requested_at is null from share_watch"), "the request cleared", seconds: 60);
    }

    [Fact]
    public async Task A_ScanShareNow_message_triggers_an_immediate_scan()
    {
        await using var h = await CreateAsync();
        var host = await h.StartWatcherAsync(new() { ["Share:PollInterval"] = "01:00:00" });
        await Eventually(async () => await h.ScanCountAsync() == 1, "the first scan at start-up");
        h.AddSettledStudy($"{h.Token}-asked");

        await host.Services.GetRequiredService<IBus>().Publish(new ScanShareNow("integration test"));

        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "the study published once it settled", seconds: 60);
        await Eventually(async () => await h.ScanCountAsync() == 3, "the requested scan and the settled one recorded", seconds: 60);
    }

    [Fact]
    public async Task Two_watchers_on_one_root_publish_a_study_once_and_never_scan_at_the_same_time()
    {
        await using var h = await CreateAsync();
        for (var i = 0; i < 5; i++) h.AddSettledStudy($"{h.Token}-study{i}");

        await h.StartWatcherAsync();
        await h.StartWatcherAsync(record: false);
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count >= 5), "all five studies published");
        await h.WaitForMoreScansAsync(10);

        Assert.Equal(5, h.Recorder.Messages.Count);
        Assert.Equal(5, h.Recorder.Messages.Select(m => m.StudyId).Distinct().Count());
        Assert.Equal(5L, await h.Db.ScalarAsync<long>("select sum(studies_found) from share_scans"));
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("""
            select count(*) from share_scans a join share_scans b
              on a.id < b.id and a.started_at < b.finished_at and b.started_at < a.finished_at
            """));
    }

    [Fact]
    public async Task While_another_worker_holds_the_roots_lock_this_one_skips_its_ticks()
    {
        await using var h = await CreateAsync();
        h.AddSettledStudy($"{h.Token}-waiting");
        await using var other = new NpgsqlConnection(h.Db.ConnectionString);
        await other.OpenAsync();
        await using (var take = new NpgsqlCommand("select pg_advisory_lock(@key)", other))
        {
            take.Parameters.AddWithValue("key", ShareScanStore.LockKey(Path.GetFullPath(h.Root)));
            await take.ExecuteNonQueryAsync();
        }

        await h.StartWatcherAsync();
        await Task.Delay(1500);
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_scans"));
        Assert.Empty(h.Recorder.Messages);

        await other.CloseAsync();
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "the study published once the lock is free");
    }

    [Fact]
    public async Task A_missing_root_records_an_error_and_the_watcher_keeps_polling()
    {
        await using var h = await CreateAsync(createRoot: false);
        await h.StartWatcherAsync();
        await Eventually(async () => await h.Db.ScalarAsync<long>("select count(*) from share_scans where error like '%does not exist%'") >= 3,
            "three failed scans recorded");

        h.AddSettledStudy($"{h.Token}-after-mount");

        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "the study published once the root exists");
        Assert.True(await h.Db.ScalarAsync<bool>("select error is null from share_scans order by id desc limit 1"));
    }

    [Fact]
    public async Task A_failed_publish_is_recorded_as_the_scans_error_and_the_study_is_not_marked_submitted()
    {
        await using var h = await CreateAsync();
        h.AddSettledStudy($"{h.Token}-unsent");

        await h.StartWatcherAsync(new() { ["Share:PublishTimeout"] = "00:00:00.500" }, record: false,
            broker: new Uri("amqp://guest:guest@127.0.0.1:1/"));
        await Eventually(async () => await h.Db.ScalarAsync<long>("select count(*) from share_scans where error like '%publishing study%'") >= 2,
            "two scans whose publish failed");

        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_submissions"));
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select coalesce(sum(studies_found), 0) from share_scans"));
    }

    [Fact]
    public async Task A_submission_no_queue_is_bound_for_is_not_marked_submitted_and_goes_out_once_one_is()
    {
        // A vhost no worker has declared its queues on (or a broker reset under one): the broker confirmed the publish
        // and dropped it, and the folder, recorded as submitted, was never submitted again.
        await using var h = await CreateAsync();
        await using var vhost = await RabbitVhost.CreateAsync();
        h.AddSettledStudy($"{h.Token}-unbound");

        await h.StartWatcherAsync(record: false, broker: vhost.AmqpUri);
        await Eventually(async () => await h.Db.ScalarAsync<long>("select count(*) from share_scans where error like '%publishing study%'") >= 2,
            "two scans whose publish was returned");
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_submissions"));

        await h.StartWatcherAsync(broker: vhost.AmqpUri);   // binds a SubmitStudy queue
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count >= 1), "the submission, once a queue is bound");
        Assert.Equal($"{h.Token}-unbound", h.Recorder.Messages[0].FolderPath);
        await Eventually(async () => await h.Db.ScalarAsync<long>("select count(*) from share_submissions") == 1, "the submission recorded");
    }

    [Fact]
    public async Task With_WriteStatusFile_a_submitted_study_gets_a_status_file_and_is_not_submitted_again_for_it()
    {
        await using var h = await CreateAsync();
        var folder = h.AddSettledStudy($"{h.Token}-status", manifestStudyId: $"{h.Token}-ST");
        var userFiles = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => f, f => (File.ReadAllText(f), File.GetLastWriteTimeUtc(f)));

        await h.StartWatcherAsync(new() { ["Share:WriteStatusFile"] = "true" });
        var statusPath = Path.Combine(folder, StudyStatusFile.FileName);
        await Eventually(() => Task.FromResult(File.Exists(statusPath)), "the status file");
        await h.WaitForMoreScansAsync(5);

        var status = File.ReadAllText(statusPath);
        Assert.Contains("\"state\": \"submitted\"", status);
        Assert.Contains($"\"study_id\": \"{h.Token}-ST\"", status);
        Assert.Single(h.Recorder.Messages);
        Assert.Equal(userFiles, Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => f != statusPath).ToDictionary(f => f, f => (File.ReadAllText(f), File.GetLastWriteTimeUtc(f))));
    }

    [Fact]
    public async Task Without_a_root_the_watcher_is_disabled_and_scans_nothing()
    {
        await using var h = await CreateAsync();
        h.AddSettledStudy($"{h.Token}-ignored");

        var host = await h.StartWatcherAsync(new() { ["Share:Root"] = null });
        // Its loop has returned (a fixed wait passed as well when the host was merely slow to begin scanning).
        var watcher = host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<NfcPipeline.Worker.Share.ShareWatcherService>().Single();
        await watcher.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_scans"));
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_watch"));
        Assert.Empty(h.Recorder.Messages);
    }

    [Fact]
    public async Task A_scan_hanging_in_the_share_is_given_up_after_the_scan_timeout_and_the_lock_left_to_others()
    {
        await using var h = await CreateAsync();
        h.AddSettledStudy($"{h.Token}-behind-a-hung-mount");
        var scanner = new HangingShareScanner(TimeProvider.System);
        try
        {
            await h.StartWatcherAsync(new() { ["Share:StallTimeout"] = "00:00:01" }, services: s => s.AddSingleton<ShareScanner>(scanner));
            await Eventually(async () => await h.Db.ScalarAsync<long>(
                "select count(*) from share_scans where finished_at is not null and error like 'The share did not answer for 00:00:01%'") == 1,
                "the hung scan recorded as failed");

            // The lock is free for another worker (once the failed scan is on record), and this one starts no second scan
            // beside the hung one.
            var store = new ShareScanStore(h.Db.ConnectionString);
            await Eventually(async () =>
            {
                await using var otherWorker = await store.TryLockRootAsync(Path.GetFullPath(h.Root), default);
                return otherWorker is not null;
            }, "the root's lock free for another worker");
            await Task.Delay(1500);
            Assert.Equal(1, scanner.Calls);
            Assert.Equal(1L, await h.Db.ScalarAsync<long>("select count(*) from share_scans"));
            Assert.Empty(h.Recorder.Messages);

            scanner.Release();
            await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "the study published once the share answers");
            Assert.Contains(h.Log.Lines, l => l.Contains("given up on has returned"));
        }
        finally { scanner.Release(); }
    }

    [Fact]
    public async Task A_slow_share_that_keeps_answering_is_scanned_to_its_end_past_the_stall_timeout()
    {
        await using var h = await CreateAsync();
        h.AddSettledStudy($"{h.Token}-on-a-slow-share");
        var scanner = new HangingShareScanner(TimeProvider.System) { Hanging = false, SlowSteps = 12 };   // 12 folders, 0.4 s each: 4.8 s

        await h.StartWatcherAsync(new() { ["Share:StallTimeout"] = "00:00:03" }, services: s => s.AddSingleton<ShareScanner>(scanner));
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "the study published", seconds: 60);
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_scans where error is not null"));
    }

    [Fact]
    public async Task A_worker_stops_promptly_while_its_scan_hangs_in_the_share()
    {
        await using var h = await CreateAsync();
        var scanner = new HangingShareScanner(TimeProvider.System);
        try
        {
            var host = await h.StartWatcherAsync(services: s => s.AddSingleton<ShareScanner>(scanner));
            await Eventually(() => Task.FromResult(scanner.Calls == 1), "the scan under way");

            var stopping = System.Diagnostics.Stopwatch.StartNew();
            await host.StopAsync();
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"stopped after {stopping.Elapsed}");
            Assert.Equal("the worker stopped during the scan", await h.Db.ScalarAsync<string>("select error from share_scans"));
        }
        finally { scanner.Release(); }
    }

    [Fact]
    public async Task With_RequireMountPoint_a_root_that_is_not_mounted_fails_its_scans_and_nothing_is_submitted()
    {
        await using var h = await CreateAsync();
        h.AddSettledStudy($"{h.Token}-on-the-bare-mount-point");

        await h.StartWatcherAsync(new() { ["Share:RequireMountPoint"] = "true" });
        await Eventually(async () => await h.Db.ScalarAsync<long>("select count(*) from share_scans where error like '%is not a mount point%'") >= 2,
            "two failed scans recorded");

        Assert.Empty(h.Recorder.Messages);
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_submissions"));
        Assert.Equal(0L, await h.Db.ScalarAsync<long>("select count(*) from share_scans where error is null"));
    }

    [Fact]
    public async Task A_share_that_lists_no_folders_where_the_last_scan_saw_some_is_warned_about_once()
    {
        await using var h = await CreateAsync();
        var folder = h.AddSettledStudy($"{h.Token}-then-gone");
        await h.StartWatcherAsync();
        await Eventually(() => Task.FromResult(h.Recorder.Messages.Count == 1), "the study published");

        Directory.Delete(folder, recursive: true);
        await Eventually(() => Task.FromResult(h.Log.Lines.Any(l => l.Contains("lists no study folders, where its last scan saw 1"))),
            "the warning about the emptied share");
        await h.WaitForMoreScansAsync(3);
        Assert.Single(h.Log.Lines, l => l.Contains("lists no study folders"));
    }
}
