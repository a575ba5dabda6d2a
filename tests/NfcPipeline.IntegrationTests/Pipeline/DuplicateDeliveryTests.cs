using Dapper;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>Two deliveries of one chunk message at once, against the real database: the first commit stands.</summary>
public class DuplicateDeliveryTests
{
    [Fact]
    public async Task A_second_delivery_of_a_chunk_finishing_after_the_first_was_written_stores_nothing()
    {
        // Two deliveries of one message ran at once (an outbox republish, a requeue of a job thought stalled, a lost
        // ack): the second's write replaced the first's results and outcomes under a study already completed on them.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await ResubmissionRaceTests.SeedAsync(db, 1);
        var results = new ResultStore(db);
        var loaded = await results.LoadChunkImagesAsync(s.ImageIds, default);
        var job = (await new JobStore(db).CreateChunksAsync(s.StudyId, s.ImageIds, 1, false, default))[0].JobId;
        var first = await results.WriteChunkAsync(new ChunkResult(job, s.ModelId, [], [new FailedImage(s.ImageIds[0], "TimedOut", "slow")], [], "{}", loaded), default);
        Assert.Equal([s.PatientId], first!.Patients);
        Assert.True(first.Stored);

        var analysed = new AnalysedImage(s.ImageIds[0], s.Shas[0], [], ResubmissionRaceTests.OldMeasurement());
        // Stores nothing, and names the chunk's patients for completion to be checked again: a retry of the first write
        // whose commit's reply was lost looks the same, and its completion must run.
        var second = await results.WriteChunkAsync(new ChunkResult(job, s.ModelId, [analysed], [], [], "{}", loaded), default);
        Assert.Equal([s.PatientId], second!.Patients);
        Assert.False(second.Stored);

        await using var check = await db.OpenConnectionAsync();
        Assert.Equal(("succeeded", "TimedOut"), await check.QuerySingleAsync<(string, string)>(
            "select j.state, i.error_code from jobs j, images i where j.id = @job and i.id = @Id", new { job, Id = s.ImageIds[0] }));
        Assert.Equal(0L, await check.ExecuteScalarAsync<long>("select count(*) from image_metrics"));
    }

    [Fact]
    public async Task A_job_counts_as_held_elsewhere_only_under_another_running_worker_with_a_fresh_heartbeat()
    {
        // A second delivery of a message whose first is still analysed was counted as an abandoned start: three made
        // the job fail as WorkerStopped although no worker had stopped. The consumer now asks this every four heartbeat
        // intervals and waits while the heartbeat moves on: a live worker.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var (jobs, job) = await OneChunkAsync(migrated);
        Assert.Equal(JobStart.Started, await jobs.StartAsync(job, "w1", 3, default));
        await using var c = await migrated.Db.OpenConnectionAsync();
        await c.ExecuteAsync("insert into workers (id, host, pid) values ('w1', 'h', 1)");
        var fresh = TimeSpan.FromSeconds(20);

        var seen = await jobs.HolderHeartbeatAsync(job, "w2", fresh, default);
        Assert.NotNull(seen);
        Assert.Null(await jobs.HolderHeartbeatAsync(job, "w1", fresh, default));   // its own job
        await c.ExecuteAsync("update workers set heartbeat_at = now() + interval '5 seconds'");
        Assert.True((await jobs.HolderHeartbeatAsync(job, "w2", fresh, default))!.Value.HeartbeatAt > seen!.Value.HeartbeatAt);   // moved on: alive
        Assert.Equal(fresh, (await jobs.HolderHeartbeatAsync(job, "w2", fresh, default))!.Value.AliveWithin);   // it recorded no window

        await c.ExecuteAsync("update workers set heartbeat_at = now() - interval '1 minute'");
        Assert.Null(await jobs.HolderHeartbeatAsync(job, "w2", fresh, default));   // silent: crashed
        await c.ExecuteAsync("update workers set heartbeat_at = now(), state = 'stopped'");
        Assert.Null(await jobs.HolderHeartbeatAsync(job, "w2", fresh, default));
        await c.ExecuteAsync("update workers set state = 'running'; update jobs set state = 'succeeded'");
        Assert.Null(await jobs.HolderHeartbeatAsync(job, "w2", fresh, default));   // not processing
    }

    [Fact]
    public async Task Two_deliveries_starting_together_count_no_abandoned_start()
    {
        // Both found the job enqueued; the second's start then saw it processing under the first, just started by a
        // live worker, and counted it abandoned: three such races gave the job up as WorkerStopped with no worker stopped.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var (jobs, job) = await OneChunkAsync(migrated);
        await using var c = await migrated.Db.OpenConnectionAsync();
        await c.ExecuteAsync("insert into workers (id, host, pid) values ('w1', 'h', 1)");
        var live = TimeSpan.FromSeconds(20);
        async Task<int> Abandoned() => await c.ExecuteScalarAsync<int>("select abandoned_starts from jobs where id = @job", new { job });

        Assert.False(await jobs.RunsAloneAsync(job, "w1", live, default));
        Assert.Equal(JobStart.Started, await jobs.StartAsync(job, "w1", 3, default, live));
        Assert.False(await jobs.RunsAloneAsync(job, "w2", live, default));   // its holder alive
        Assert.Equal(JobStart.Started, await jobs.StartAsync(job, "w2", 3, default, live));
        Assert.Equal(0, await Abandoned());

        // Its holder's heartbeat stopped (a crash), or it has held the job for longer than the window: abandoned.
        // Abandoned once, it starts to run alone (ChunkGate), so that a crash it causes is its own.
        await c.ExecuteAsync("update jobs set worker_id = 'w1'; update workers set heartbeat_at = now() - interval '1 minute'");
        Assert.True(await jobs.RunsAloneAsync(job, "w2", live, default));   // asked before the start, which counts it
        Assert.Equal(0, await Abandoned());
        Assert.Equal(JobStart.StartedAlone, await jobs.StartAsync(job, "w2", 3, default, live));
        Assert.Equal(1, await Abandoned());
        await c.ExecuteAsync("update jobs set worker_id = 'w1', started_at = now() - interval '1 minute'; update workers set heartbeat_at = now()");
        Assert.Equal(JobStart.StartedAlone, await jobs.StartAsync(job, "w2", 3, default, live));
        Assert.Equal(2, await Abandoned());
        // Finished, a late duplicate of its message is acknowledged in a shared turn: no worker drained for it.
        await c.ExecuteAsync("update jobs set state = 'succeeded'");
        Assert.False(await jobs.RunsAloneAsync(job, "w3", live, default));
    }

    [Fact]
    public async Task A_start_waiting_for_the_job_s_lock_counts_from_the_abandoned_starts_the_other_start_left()
    {
        // The give-up test read abandoned_starts in a second scan, from the statement's snapshot: a start that waited for
        // the row behind another start that counted one judged by the count from before it, and ran the job once more.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var (jobs, job) = await OneChunkAsync(migrated);
        Assert.Equal(JobStart.Started, await jobs.StartAsync(job, "w1", 3, default));
        await using var c = await migrated.Db.OpenConnectionAsync();
        await c.ExecuteAsync("update jobs set abandoned_starts = 1 where id = @job", new { job });

        // The other start: it counts the second abandoned start and holds the row until it commits.
        await using var other = await migrated.Db.OpenConnectionAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await other.ExecuteAsync("update jobs set abandoned_starts = 2, worker_id = 'w2' where id = @job", new { job }, transaction);
        var waiting = jobs.StartAsync(job, "w3", 3, default);
        await PipelineEnvironment.WaitUntilAsync(async () => await c.ExecuteScalarAsync<long>(
            "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'") > 0,
            TimeSpan.FromSeconds(10));
        Assert.False(waiting.IsCompleted);
        await transaction.CommitAsync();

        Assert.Equal(JobStart.GivenUp, await waiting.WaitAsync(TimeSpan.FromSeconds(10)));   // the third abandoned start
        Assert.Equal(("failed", 3), await c.QuerySingleAsync<(string, int)>("select state, abandoned_starts from jobs where id = @job", new { job }));
    }

    [Fact]
    public async Task A_holder_is_judged_by_the_window_it_recorded_not_by_the_redelivering_workers()
    {
        // A redelivery judged the holder by its own heartbeat interval: a live worker beating every minute (alive within
        // 4 minutes) looked dead to one beating every 5 seconds, and its chunk was counted as abandoned.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var (jobs, job) = await OneChunkAsync(migrated);
        var workers = new WorkerStore(migrated.Db);
        await workers.RegisterAsync("slow", "h", 1, "cpu", "CPUExecutionProvider", [1], TimeSpan.FromMinutes(4), default);
        await using var c = await migrated.Db.OpenConnectionAsync();
        async Task<int> Abandoned() => await c.ExecuteScalarAsync<int>("select abandoned_starts from jobs where id = @job", new { job });
        var mine = TimeSpan.FromSeconds(20);
        Assert.Equal(JobStart.Started, await jobs.StartAsync(job, "slow", 3, default, mine));
        await c.ExecuteAsync("update jobs set started_at = now() - interval '90 seconds'; update workers set heartbeat_at = now() - interval '70 seconds'");

        var held = await jobs.HolderHeartbeatAsync(job, "fast", mine, default);
        Assert.Equal(TimeSpan.FromMinutes(4), held!.Value.AliveWithin);
        Assert.Equal(JobStart.Started, await jobs.StartAsync(job, "fast", 3, default, mine));
        Assert.Equal(0, await Abandoned());

        // Silent for longer than its own window: it died, and the start is an abandoned one.
        await c.ExecuteAsync("update jobs set worker_id = 'slow'; update workers set heartbeat_at = now() - interval '5 minutes'");
        Assert.Null(await jobs.HolderHeartbeatAsync(job, "fast", mine, default));
        Assert.Equal(JobStart.StartedAlone, await jobs.StartAsync(job, "fast", 3, default, mine));
        Assert.Equal(1, await Abandoned());
    }

    /// <summary>A seeded study of one image and its one chunk's job, not started.</summary>
    private static async Task<(JobStore Jobs, long Job)> OneChunkAsync(MigratedDatabase migrated)
    {
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 1);
        var jobs = new JobStore(migrated.Db);
        return (jobs, (await jobs.CreateChunksAsync(s.StudyId, s.ImageIds, 1, false, default))[0].JobId);
    }
}
