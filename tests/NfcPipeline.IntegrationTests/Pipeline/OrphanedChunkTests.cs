using Npgsql;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Analysis;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>A chunk job left 'processing' under a live worker with no message anywhere (its fault lost to a long outage).</summary>
public class OrphanedChunkTests
{
    /// <summary>The study's chunk job left processing under @Worker, untouched for @Ago, its study's images and patients unfinished.</summary>
    private const string LeftProcessing = """
        update jobs set state = 'processing', finished_at = null, updated_at = now() - @Ago, worker_id = @Worker
        where kind = 'analyze_chunk';
        update images set state = 'queued';
        update patients set state = 'processing', completed_at = null;
        update studies set state = 'processing', completed_at = null;
        select 1
        """;

    private static readonly TimeSpan FiveMinutes = TimeSpan.FromMinutes(5), TenMinutes = TimeSpan.FromMinutes(10), FortyMinutes = TimeSpan.FromMinutes(40);

    [Fact]
    public async Task A_job_left_processing_that_no_consumer_holds_is_sent_back_and_completes_and_one_held_is_not()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-orphan", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Worker__OrphanedChunkAfter"] = "00:01:00", ["Worker__RepublishAfter"] = "00:00:03",
        });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-orphan", FolderPath = "study-orphan" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-orphan", TimeSpan.FromMinutes(2)));
        var jobId = await env.QueryScalarAsync<long>("select id from jobs where kind = 'analyze_chunk'");

        // The store's rule, under a worker id of the test's own (the live worker's pass leaves it alone): a job a
        // consumer holds, or let go within the window, stays; one untouched and let go is sent back.
        await env.QueryScalarAsync<int>(LeftProcessing, new { Worker = "test-worker", Ago = TenMinutes });
        await using (var dataSource = NpgsqlDataSource.Create(env.Db.ConnectionString))
        {
            var store = new JobStore(dataSource);
            Assert.Empty(await store.RecoverOrphanedAsync("test-worker", [jobId], TimeSpan.FromMinutes(1), default));
            Assert.Empty(await store.RecoverOrphanedAsync("other-worker", [], TimeSpan.FromMinutes(1), default));
            Assert.Empty(await store.RecoverOrphanedAsync("test-worker", [], TimeSpan.FromMinutes(11), default));   // touched within
            Assert.Equal([jobId], await store.RecoverOrphanedAsync("test-worker", [], TimeSpan.FromMinutes(1), default));
        }
        Assert.Equal("completed", await env.WaitForStudyAsync("study-orphan", TimeSpan.FromMinutes(2)));
        Assert.Equal(2, await env.QueryScalarAsync<int>("select attempts from jobs where kind = 'analyze_chunk'"));

        // The worker's own pass, for a job under its id: sent back once its consumers have let it go for the window.
        await env.QueryScalarAsync<int>(LeftProcessing,
            new { Worker = await env.QueryScalarAsync<string>($"select id from workers where pid = {worker.Pid}"), Ago = TenMinutes });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-orphan", TimeSpan.FromMinutes(3)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal(("succeeded", 3), (await env.QueryScalarAsync<string>("select state from jobs where kind = 'analyze_chunk'"),
            await env.QueryScalarAsync<int>("select attempts from jobs where kind = 'analyze_chunk'")));
        Assert.Contains("chunk job(s) left processing under this worker without their message", worker.Output);
    }

    [Fact]
    public async Task A_job_left_processing_by_a_gone_worker_is_sent_back_counted_as_abandoned_and_runs_alone_and_one_under_a_live_worker_is_not()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-abandoned", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Worker__AbandonedChunkAfter"] = "00:10:00", ["Worker__RepublishAfter"] = "00:00:03",
        });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-abandoned", FolderPath = "study-abandoned" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-abandoned", TimeSpan.FromMinutes(2)));
        var jobId = await env.QueryScalarAsync<long>("select id from jobs where kind = 'analyze_chunk'");
        await env.QueryScalarAsync<int>("""
            insert into workers (id, host, pid, heartbeat_at) values ('live-holder', 'h', 1, now());
            insert into workers (id, host, pid, state) values ('gone-worker', 'h', 2, 'stopped');
            select 1
            """);

        // The store's rule, five minutes back (inside the worker's own window, so its pass leaves the job alone): a job
        // under a live worker stays, and so does one touched within the window; one left by a gone worker is sent back.
        await using (var dataSource = NpgsqlDataSource.Create(env.Db.ConnectionString))
        {
            var store = new JobStore(dataSource);
            await env.QueryScalarAsync<int>(LeftProcessing, new { Worker = "live-holder", Ago = FiveMinutes });
            Assert.Empty(await store.RecoverAbandonedAsync("test-worker", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), default));
            // Its heartbeat 150 s stale (a database outage stales every one): not gone until silent a third of the window.
            await env.QueryScalarAsync<int>("update workers set heartbeat_at = now() - interval '150 seconds' where id = 'live-holder'; " +
                "update jobs set updated_at = now() - interval '40 minutes'; select 1");
            Assert.Empty(await store.RecoverAbandonedAsync("test-worker", TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(2), default));
            // The caller's own: RecoverOrphanedAsync's, which knows which of them its consumers hold.
            await env.QueryScalarAsync<int>(LeftProcessing, new { Worker = "test-worker", Ago = FiveMinutes });
            Assert.Empty(await store.RecoverAbandonedAsync("test-worker", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), default));
            await env.QueryScalarAsync<int>(LeftProcessing, new { Worker = "gone-worker", Ago = FiveMinutes });
            Assert.Empty(await store.RecoverAbandonedAsync("test-worker", TimeSpan.FromMinutes(6), TimeSpan.FromMinutes(2), default));
            Assert.Equal([jobId], await store.RecoverAbandonedAsync("test-worker", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), default));
        }
        Assert.Equal("completed", await env.WaitForStudyAsync("study-abandoned", TimeSpan.FromMinutes(2)));
        Assert.Equal(("succeeded", 2, 1), (await env.QueryScalarAsync<string>("select state from jobs where kind = 'analyze_chunk'"),
            await env.QueryScalarAsync<int>("select attempts from jobs where kind = 'analyze_chunk'"),
            await env.QueryScalarAsync<int>("select abandoned_starts from jobs where kind = 'analyze_chunk'")));
        Assert.Contains($"Job {jobId} was abandoned before by a worker that stopped while analysing it; it runs alone", worker.Output);

        // The worker's own pass, past its window, for a job left by a worker whose heartbeat stopped.
        await env.QueryScalarAsync<int>("update workers set heartbeat_at = now() - interval '1 hour' where id = 'live-holder'; select 1");
        await env.QueryScalarAsync<int>(LeftProcessing, new { Worker = "live-holder", Ago = FortyMinutes });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-abandoned", TimeSpan.FromMinutes(2)));
        Assert.Equal(("succeeded", 3, 2), (await env.QueryScalarAsync<string>("select state from jobs where kind = 'analyze_chunk'"),
            await env.QueryScalarAsync<int>("select attempts from jobs where kind = 'analyze_chunk'"),
            await env.QueryScalarAsync<int>("select abandoned_starts from jobs where kind = 'analyze_chunk'")));
        Assert.Contains("chunk job(s) left processing by a worker that is gone", worker.Output);

        // Sent back a third time: the count reaches Worker:MaxAbandonedStarts (3), and its next start gives it up, failing
        // its images as WorkerStopped, as a third abandoned start would.
        await env.QueryScalarAsync<int>(LeftProcessing, new { Worker = "gone-worker", Ago = FortyMinutes });
        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-abandoned", TimeSpan.FromMinutes(2)));
        Assert.Equal(("failed", 3), (await env.QueryScalarAsync<string>("select state from jobs where kind = 'analyze_chunk'"),
            await env.QueryScalarAsync<int>("select abandoned_starts from jobs where kind = 'analyze_chunk'")));
        Assert.StartsWith("Started 3 times;", await env.QueryScalarAsync<string>("select last_error from jobs where kind = 'analyze_chunk'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where error_code = 'WorkerStopped'"));
    }

    [Fact]
    public void A_job_counts_as_held_while_a_delivery_holds_it_and_for_the_window_after_the_last_lets_it_go()
    {
        var clock = new HandClock();
        var inFlight = new ChunksInFlight(clock);
        var window = TimeSpan.FromMinutes(1);
        var first = inFlight.Enter(7);
        var second = inFlight.Enter(7);
        using (inFlight.Enter(8)) Assert.Equal([7L, 8L], inFlight.HeldOrReleasedWithin(window).Order());
        first.Dispose();
        first.Dispose();   // once only
        clock.Now += TimeSpan.FromMinutes(2);
        Assert.Equal([7L], inFlight.HeldOrReleasedWithin(window));   // 8 let go two minutes ago; 7 still held by the second delivery
        second.Dispose();
        clock.Now += TimeSpan.FromSeconds(59);
        Assert.Equal([7L], inFlight.HeldOrReleasedWithin(window));   // between two retries of its message
        clock.Now += TimeSpan.FromSeconds(2);
        Assert.Empty(inFlight.HeldOrReleasedWithin(window));
    }

    private sealed class HandClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UnixEpoch;
        public override DateTimeOffset GetUtcNow() => Now;
    }
}
