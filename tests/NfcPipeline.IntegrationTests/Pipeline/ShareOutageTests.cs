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
    public async Task With_RequireShareMountPoint_a_share_that_is_not_mounted_holds_its_chunks_in_the_outbox_without_failing_an_image()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-unmounted", patients: 1, imagesPerPatient: 4);
        await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__RequireShareMountPoint"] = "true" });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-unmounted", FolderPath = "study-unmounted" });

        const string held = "select count(*) from jobs where kind = 'analyze_chunk' and attempts = 1 and state = 'retrying' and published_at is null" +
            " and last_error like 'Waiting for the share: the share root % is not a mount point (Worker:RequireShareMountPoint)%'";
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>(held) == 2, TimeSpan.FromMinutes(1), () => env.Workers[0].Output);
        // Past Worker:RepublishAfter (3 s here) and two outbox passes: still held, not started again.
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.Equal(2L, await env.QueryScalarAsync<long>(held));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from images where state in ('failed', 'succeeded')"));
        Assert.Equal("processing", await env.QueryScalarAsync<string>("select state from studies where external_id = 'study-unmounted'"));
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
