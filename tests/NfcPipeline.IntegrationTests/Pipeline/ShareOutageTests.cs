using NfcPipeline.Contracts;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>A share that goes away (an unmounted or renamed root) while its studies are analysed.</summary>
public class ShareOutageTests
{
    [Fact]
    public async Task Chunks_wait_for_a_share_that_went_away_and_the_study_completes_without_errors_once_it_is_back()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-share-gone", patients: 2, imagesPerPatient: 12, width: 1024, height: 768);
        // One chunk at a time: most are still queued when the share goes (registration has read every file by then).
        await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Inference__Batching__MaxBatchSize"] = "1", ["Worker__ConcurrentMessageLimit"] = "1", ["Worker__PrefetchCount"] = "1",
        });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-share-gone", FolderPath = "study-share-gone" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("select count(*) from jobs where kind = 'analyze_chunk'") > 0,
            TimeSpan.FromMinutes(1));

        var away = env.Share.FullName + "-away";
        Directory.Move(env.Share.FullName, away);
        try
        {
            await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>(
                "select count(*) from jobs where state = 'retrying' and last_error like 'Waiting for the share: the share root % does not exist%'") > 0,
                TimeSpan.FromMinutes(1), () => env.Workers[0].Output);
            await Task.Delay(TimeSpan.FromSeconds(5));   // past Worker:RepublishAfter (3 s): the outbox holds the chunks
            Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'failed'"));
            // Each started once at most: a chunk that waited is not published again while the share is away.
            Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where attempts > 1"));
            Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where state = 'retrying' and published_at is not null"));
        }
        finally { Directory.Move(away, env.Share.FullName); }

        Assert.Equal("completed", await env.WaitForStudyAsync("study-share-gone", TimeSpan.FromMinutes(3)));
        Assert.Equal(24L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where state <> 'succeeded'"));
        // Said once when the share went and once when it was back, not for every chunk that waited.
        Assert.Equal(1, CountOf(env.Workers[0].Output, "The share is not available: the share root '"));
        Assert.Equal(1, CountOf(env.Workers[0].Output, "The share is available again"));
    }

    [Fact]
    public async Task With_RequireShareMountPoint_a_share_that_is_not_mounted_is_not_read_and_its_submission_is_retried_then_noted()
    {
        // The empty mount point of an unmounted share would have refused the folder for good as missing.
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-unmounted", patients: 1, imagesPerPatient: 4);
        var worker = await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Worker__RequireShareMountPoint"] = "true", ["Worker__MessageRetryLimit"] = "1",
        });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-unmounted", FolderPath = "study-unmounted" });

        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("""
            select count(*) from share_folder_notes where folder = 'study-unmounted' and state = 'registration_refused'
              and reason like 'Its registration failed after its retries (%ShareUnavailableException: The share is not available: the share root % is not a mount point (Worker:RequireShareMountPoint)%'
            """) == 1, TimeSpan.FromMinutes(1), () => worker.Output);
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from studies"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs"));
        Assert.DoesNotContain("does not exist", worker.Output);
    }

    [Fact]
    public async Task A_submission_while_the_share_is_away_is_retried_and_registers_once_the_share_is_back()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-away", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__MessageRetryLimit"] = "3" });
        var away = env.Share.FullName + "-away";
        Directory.Move(env.Share.FullName, away);
        try
        {
            // A message at fault itself is refused at once with its own reason, share or no share (retried as a share
            // outage, its note would read "failed after its retries").
            await env.SubmitAsync(new SubmitStudy { StudyId = "study-nul", FolderPath = "study-nul", Device = "cap\0" });
            await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>(
                "select count(*) from share_folder_notes where folder = 'study-nul' and reason = 'Device cannot contain a NUL character.'") == 1,
                TimeSpan.FromMinutes(1), () => worker.Output);

            await env.SubmitAsync(new SubmitStudy { StudyId = "study-away", FolderPath = "study-away" });
            // The consumer's own refusal to read (the outbox pass says the share is away too): retried, not refused.
            await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.Output.Contains("ShareUnavailableException: The share is not available: the share root '")),
                TimeSpan.FromMinutes(1), () => worker.Output);
        }
        finally { Directory.Move(away, env.Share.FullName); }

        // The next retry (1 s or more later) finds it: registered and analysed, never refused as a missing folder.
        Assert.Equal("completed", await env.WaitForStudyAsync("study-away", TimeSpan.FromMinutes(2)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from share_folder_notes where folder = 'study-away'"));
        Assert.Equal(1L, await env.Vhost.QueueDepthAsync("submit-study_error"));   // the NUL one only
    }

    [Fact]
    public async Task A_share_root_that_hangs_is_unavailable_after_the_probe_timeout_and_holds_one_thread_not_one_per_call()
    {
        using var hung = new ManualResetEventSlim();
        int checks = 0;
        var share = new NfcPipeline.Worker.Analysis.ShareAvailability(() => { Interlocked.Increment(ref checks); hung.Wait(); return null; },
            "/mnt/share", TimeSpan.FromSeconds(2), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.StartsWith("the share root '/mnt/share' did not answer within", await share.ProblemAsync(default));
        Assert.StartsWith("the share root '/mnt/share' did not answer within", await share.ProblemAsync(default));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal(1, checks);   // the second call waited on the same hung check

        hung.Set();
        Assert.Null(await share.ProblemAsync(default));   // the hung check answered: available
        Assert.Null(await share.ProblemAsync(default));
        Assert.InRange(checks, 2, 3);   // a call after a finished check runs a new one
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, "").Length) / part.Length;
}
