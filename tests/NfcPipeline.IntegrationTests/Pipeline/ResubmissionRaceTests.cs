using Dapper;
using NfcPipeline.Core.Aggregation;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Migrations;
using NfcPipeline.Storage.Pipeline;
using Npgsql;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// A resubmission while the study's chunks still run, against the real database: the stores' own locks and checks,
/// with the interleavings forced instead of hoped for.
/// </summary>
public class ResubmissionRaceTests
{
    private static readonly byte[] Model = System.Security.Cryptography.SHA256.HashData("model"u8.ToArray());

    internal sealed record Seeded(long StudyId, long PatientId, long ModelId, long[] ImageIds, byte[][] Shas);

    /// <summary>The seeded study as a resubmission lists it: the same folder, files and calibration.</summary>
    internal static StudyRegistration SubmittedAgain(Seeded s, string manifest = "{}", Func<int, byte[]>? sha = null) => new("race", "race", 2.0, null, manifest,
        s.ImageIds.Select((_, i) => new ImageRegistration("P1", "L2", $"f{i}", $"P1/L2/f{i}.png", sha?.Invoke(i) ?? s.Shas[i], 1, null, null, null)).ToList());

    internal static async Task<Seeded> SeedAsync(NpgsqlDataSource db, int images)
    {
        await using var c = await db.OpenConnectionAsync();
        var model = await c.ExecuteScalarAsync<long>("insert into models (sha256, name, contract) values (@Model, 'm', 'dense/v1') returning id", new { Model });
        var study = await c.ExecuteScalarAsync<long>(
            "insert into studies (external_id, source_path, um_per_px, state, model_id) values ('race', 'race', 2.0, 'processing', @model) returning id", new { model });
        var patient = await c.ExecuteScalarAsync<long>("insert into patients (study_id, code, state) values (@study, 'P1', 'processing') returning id", new { study });
        var shas = Enumerable.Range(0, images).Select(i => System.Security.Cryptography.SHA256.HashData([(byte)i])).ToArray();
        var ids = new long[images];
        for (int i = 0; i < images; i++)
            ids[i] = await c.ExecuteScalarAsync<long>("""
                insert into images (study_id, patient_id, field, rel_path, sha256, size_bytes, state)
                values (@study, @patient, @field, @path, @sha, 1, 'processing') returning id
                """, new { study, patient, field = $"f{i}", path = $"P1/L2/f{i}.png", sha = shas[i] });
        return new Seeded(study, patient, model, ids, shas);
    }

    [Fact]
    public async Task A_chunk_loads_only_the_images_still_its_own()
    {
        // A resubmission (a corrected calibration, a reanalysis) moves queued images to new chunks; the old chunks
        // still decoded and inferred every one of them, only for their writes to skip them all.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 3);
        var jobs = new JobStore(db);
        var first = (await jobs.CreateChunksAsync(s.StudyId, s.ImageIds, 3, false, default))[0].JobId;
        var later = (await jobs.CreateChunksAsync(s.StudyId, [s.ImageIds[2]], 3, false, default))[0].JobId;
        var results = new ResultStore(db);

        Assert.Equal(s.ImageIds.Take(2), (await results.LoadChunkImagesAsync(first, s.ImageIds, default)).Select(i => i.ImageId));
        Assert.Equal([s.ImageIds[2]], (await results.LoadChunkImagesAsync(later, s.ImageIds, default)).Select(i => i.ImageId));
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update images set chunk_job_id = null");   // rows from before ownership: any chunk's
        Assert.Equal(3, (await results.LoadChunkImagesAsync(first, s.ImageIds, default)).Count);
    }

    [Fact]
    public async Task A_chunk_that_loaded_its_images_before_a_resubmission_leaves_the_images_the_resubmission_changed()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 3);
        var results = new ResultStore(db);
        var loaded = await results.LoadChunkImagesAsync(s.ImageIds, default);
        var job = (await new JobStore(db).CreateChunksAsync(s.StudyId, s.ImageIds, 3, false, default))[0].JobId;

        // Meanwhile a resubmission: image 0 was replaced (a new hash, queued again).
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update images set sha256 = sha256(sha256), state = 'queued' where id = @Id", new { Id = s.ImageIds[0] });

        var failed = s.ImageIds.Select(id => new FailedImage(id, "ChangedSinceRegistration", "changed")).ToList();
        var touched = await results.WriteChunkAsync(new ChunkResult(job, s.ModelId, [], failed, [], "{}", loaded), default);

        Assert.Equal([s.PatientId], touched!.Patients);
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal("queued", await check.ExecuteScalarAsync<string>("select state from images where id = @Id", new { Id = s.ImageIds[0] }));
        Assert.Equal(2L, await check.ExecuteScalarAsync<long>("select count(*) from images where state = 'failed'"));
        Assert.Equal("succeeded", await check.ExecuteScalarAsync<string>("select state from jobs where id = @job", new { job }));

        // A corrected calibration: the chunk that loaded 2.0 µm/px writes none of its images (run again: requeued).
        await check.ExecuteAsync("update images set state = 'queued' where id = @Id; update studies set um_per_px = 1.5; update jobs set state = 'processing'",
            new { Id = s.ImageIds[1] });
        var second = await results.WriteChunkAsync(new ChunkResult(job, s.ModelId, [], [failed[1]], [], "{}", loaded), default);
        Assert.True(second!.Stored);   // written (nothing touched), not discarded
        Assert.Empty(second.Patients);
        Assert.Equal("queued", await check.ExecuteScalarAsync<string>("select state from images where id = @Id", new { Id = s.ImageIds[1] }));
    }

    [Theory]
    [InlineData("failed")]
    [InlineData("deleted")]
    public async Task A_chunk_finishing_after_its_job_failed_or_was_deleted_stores_nothing_and_is_not_started_again(string jobState)
    {
        // Given up (another worker found it abandoned) or failed after its retries, and perhaps deleted by an operator,
        // while its first worker was still analysing it: the study completed with the images failed and said so, so
        // that worker's late write changes nothing (before, it made the images succeeded under a study left
        // completed_with_errors), and a duplicate of its message does not run it again.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 1);
        var results = new ResultStore(db);
        var jobs = new JobStore(db);
        var loaded = await results.LoadChunkImagesAsync(s.ImageIds, default);
        var job = (await jobs.CreateChunksAsync(s.StudyId, s.ImageIds, 1, false, default))[0].JobId;
        await using var check = await db.OpenConnectionAsync();
        await check.ExecuteAsync("""
            update jobs set state = @jobState, last_error = 'Started 3 times; given up' where id = @job;
            update images set state = 'failed', error_code = 'WorkerStopped'
            """, new { job, jobState });

        var analysed = new AnalysedImage(s.ImageIds[0], s.Shas[0], [], OldMeasurement());
        Assert.Null(await results.WriteChunkAsync(new ChunkResult(job, s.ModelId, [analysed], [], [], "{}", loaded), default));

        Assert.Equal(jobState, await check.ExecuteScalarAsync<string>("select state from jobs where id = @job", new { job }));
        Assert.Equal("WorkerStopped", await check.ExecuteScalarAsync<string>("select error_code from images where id = @Id", new { Id = s.ImageIds[0] }));
        Assert.Equal(0L, await check.ExecuteScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(jobState == "failed" ? JobStart.Failed : JobStart.Deleted, await jobs.StartAsync(job, "worker-b", 3, default));

        // A late fault leaves an operator's deletion on record, and a failed job its first reason (the give-up's, which
        // decides a redelivered message's error code).
        await jobs.MarkFailedAsync(job, "late fault", DateTime.UtcNow, default);
        Assert.Equal((jobState, "Started 3 times; given up"), (await check.QuerySingleAsync<(string, string)>(
            "select state, last_error from jobs where id = @job", new { job })));
    }

    [Fact]
    public async Task A_registration_that_waited_for_the_study_lock_commits_chunks_no_outbox_pass_takes_from_their_publisher()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 2);
        var jobs = new JobStore(db);

        // Another transaction holds the study's lock (a requeue waiting for the broker, a long chunk write) for 10 s.
        await using var holder = await db.OpenConnectionAsync();
        await using var held = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("select pg_advisory_xact_lock(hashtextextended('nfc.study:' || 'race', 0))", transaction: held);
        var registering = new StudyRegistrationStore(db).RegisterAsync(SubmittedAgain(s), s.ModelId, 2.0, true, 1, "{}", default);
        await LockWaiters.WaitForAdvisoryWaiterAsync(db, registering, "the registration");   // its transaction has begun
        await Task.Delay(10_000);
        await held.CommitAsync();
        var registered = await registering;
        Assert.Equal(2, registered.Chunks.Count);

        // Its chunks' claims are as old as their insert, not as the transaction: an outbox pass with a lease of 8 s
        // leaves them to the publisher that holds them (stamped with the transaction's start, they were taken again). The
        // lease of 8 s leaves a loaded machine 8 s between the insert and this pass.
        Assert.Empty(await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.FromSeconds(8), 10, default));
    }

    [Fact]
    public async Task A_chunk_running_when_a_reanalysis_queued_its_images_again_leaves_them_to_the_new_chunk()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 2);
        var results = new ResultStore(db);
        var old = (await new JobStore(db).CreateChunksAsync(s.StudyId, s.ImageIds, 2, false, default))[0].JobId;
        var loaded = await results.LoadChunkImagesAsync(s.ImageIds, default);
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update jobs set state = 'processing' where id = @old; update images set state = 'processing'", new { old });

        // Meanwhile the study is submitted again with reanalyze, at the same calibration and with the same files.
        // Its study.json has a comment and a trailing comma, which jsonb takes only as the manifest re-writes them.
        var manifest = NfcPipeline.Intake.StudyManifest.Parse("{\"site\": \"A\", // the site\n}").Raw;
        var registration = SubmittedAgain(s, manifest);
        var registered = await new StudyRegistrationStore(db).RegisterAsync(registration, s.ModelId, 2.0, true, 2, "{}", default);
        Assert.Equal(s.ImageIds.Order(), registered.ImagesToAnalyse.Order());

        // The old chunk writes while the new one is still to run: it stores nothing, the images wait for the new one.
        var analysedByOld = new AnalysedImage(s.ImageIds[0], s.Shas[0], [], OldMeasurement());
        var failed = new List<FailedImage> { new(s.ImageIds[1], "Corrupt", "old chunk") };
        Assert.Empty((await results.WriteChunkAsync(new ChunkResult(old, s.ModelId, [analysedByOld], failed, [], "{}", loaded), default))!.Patients);
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal(["queued", "queued"], await check.QueryAsync<string>("select state from images order by id"));
        Assert.Equal(0L, await check.ExecuteScalarAsync<long>("select count(*) from image_metrics"));   // its results are not stored
        Assert.Null(await new PatientResultsStore(db).AggregateIfDoneAsync(s.PatientId, s.ModelId, new PatientAggregator(), "{}", default));
        Assert.Equal("processing", await check.ExecuteScalarAsync<string>("select state from patients"));

        // The new chunk writes; the old one, delivered a second time, writes again after it: its job succeeded with the
        // first write, so it stores nothing, and the new one's outcome stands.
        var newer = registered.Chunks.Single().JobId;
        var newLoad = await results.LoadChunkImagesAsync(s.ImageIds, default);
        var reused = s.ImageIds.Select(id => new ReusedImage(id, 2.0)).ToList();
        Assert.Equal([s.PatientId], (await results.WriteChunkAsync(new ChunkResult(newer, s.ModelId, [], [], reused, "{}", newLoad), default))!.Patients);
        Assert.False((await results.WriteChunkAsync(new ChunkResult(old, s.ModelId, [analysedByOld], failed, [], "{}", loaded), default))!.Stored);
        Assert.Equal(["succeeded", "succeeded"], await check.QueryAsync<string>("select state from images order by id"));
        Assert.Equal(0L, await check.ExecuteScalarAsync<long>("select count(*) from image_metrics"));
    }

    [Fact]
    public async Task A_plain_resubmission_during_a_reanalysis_leaves_its_images_to_the_reanalysis()
    {
        // Analysed once (results stored), then submitted with reanalyze; before its chunk runs, the study is submitted
        // again plainly (a new file in the folder, nfc enqueue). The stored older results were reused for the images in
        // flight: the study completed at once on the old numbers, and the reanalysis later changed them unannounced.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 2);
        var results = new ResultStore(db);
        var registrations = new StudyRegistrationStore(db);
        var first = (await new JobStore(db).CreateChunksAsync(s.StudyId, s.ImageIds, 2, false, default))[0].JobId;
        var analysed = s.ImageIds.Select((id, i) => new AnalysedImage(id, s.Shas[i], [], OldMeasurement())).ToList();
        await results.WriteChunkAsync(new ChunkResult(first, s.ModelId, analysed, [], [], "{}", await results.LoadChunkImagesAsync(s.ImageIds, default)), default);

        var reanalysis = await registrations.RegisterAsync(SubmittedAgain(s), s.ModelId, 2.0, true, 2, "{}", default);
        Assert.Equal(s.ImageIds.Order(), reanalysis.ImagesToAnalyse.Order());
        var plain = await registrations.RegisterAsync(SubmittedAgain(s), s.ModelId, 2.0, false, 2, "{}", default);

        Assert.Empty(plain.ImagesToAnalyse);
        Assert.Equal(0, plain.ReusedImages);
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal(["queued", "queued"], await check.QueryAsync<string>("select state from images order by id"));
        Assert.Equal("processing", await check.ExecuteScalarAsync<string>("select state from studies"));
        Assert.Null(await new PatientResultsStore(db).CompleteStudyIfDoneAsync(s.StudyId, default));
    }

    internal static Core.Measurements.ImageMeasurement OldMeasurement() =>
        new Core.Measurements.ImageMeasurer().Measure([], new Core.Domain.Calibration(2.0), 64, 64);

    [Fact]
    public async Task A_requeued_older_chunk_takes_back_the_images_a_later_chunk_failed_and_finishes_them()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 1);
        var results = new ResultStore(db);
        var jobs = new JobStore(db);
        var x = s.ImageIds[0];
        // J1 failed after its retries (its image failed with it); a resubmission queued the image again in J2, where it
        // failed on its own, and J2 succeeded.
        var j1 = (await jobs.CreateChunksAsync(s.StudyId, [x], 1, false, default))[0].JobId;
        var load1 = await results.LoadChunkImagesAsync([x], default);
        await jobs.MarkFailedAsync(j1, "faulted", DateTime.UtcNow, default);
        await results.FailUnfinishedImagesAsync(j1, [x], "ChunkFailed", "faulted", default);
        var j2 = (await jobs.CreateChunksAsync(s.StudyId, [x], 1, false, default))[0].JobId;
        await results.WriteChunkAsync(new ChunkResult(j2, s.ModelId, [], [new FailedImage(x, "Corrupt", "bad")], [], "{}",
            await results.LoadChunkImagesAsync([x], default)), default);

        // The operator requeues the failed J1, as its error says: it owns the image again and finishes it.
        var requeue = await new NfcPipeline.Storage.Reporting.JobAdmin(db).RequeueAsync([j1], "test", (_, _) => Task.CompletedTask);
        Assert.Equal([j1], requeue.Requeued);
        Assert.Equal([s.PatientId], (await results.WriteChunkAsync(new ChunkResult(j1, s.ModelId, [], [new FailedImage(x, "Corrupt", "bad")], [], "{}", load1), default))!.Patients);
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal("failed", await check.ExecuteScalarAsync<string>("select state from images"));   // was left queued for ever
    }

    [Fact]
    public async Task A_delivery_from_before_a_requeue_leaves_the_job_to_run_the_images_it_never_loaded()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 2);
        var results = new ResultStore(db);
        var jobs = new JobStore(db);
        var (a, x) = (s.ImageIds[0], s.ImageIds[1]);
        // J1 runs; a resubmission had moved X to J2, so J1 loaded only A. X fails in J2.
        var j1 = (await jobs.CreateChunksAsync(s.StudyId, [a, x], 2, false, default))[0].JobId;
        var j2 = (await jobs.CreateChunksAsync(s.StudyId, [x], 1, false, default))[0].JobId;
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update jobs set state = 'processing' where id = @j1", new { j1 });
        var load1 = await results.LoadChunkImagesAsync(j1, [a, x], default);
        Assert.Equal([a], load1.Select(i => i.ImageId));
        await results.WriteChunkAsync(new ChunkResult(j2, s.ModelId, [], [new FailedImage(x, "Corrupt", "bad")], [], "{}",
            await results.LoadChunkImagesAsync(j2, [x], default)), default);

        // The operator requeues what looks stalled: J1 takes X back, queued. Then J1's first delivery writes.
        var requeue = await new NfcPipeline.Storage.Reporting.JobAdmin(db).RequeueStalledAsync(TimeSpan.Zero, "test", (_, _) => Task.CompletedTask);
        Assert.Equal([j1], requeue.Requeued);
        var analysedA = new AnalysedImage(a, s.Shas[0], [], OldMeasurement());
        Assert.True((await results.WriteChunkAsync(new ChunkResult(j1, s.ModelId, [analysedA], [], [], "{}", load1), default))!.Stored);

        // A is stored; X waits for the requeued message, and the job is not marked succeeded under it (its new delivery
        // would have found it done and left X queued for ever).
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal(["succeeded", "queued"], await check.QueryAsync<string>("select state from images order by id"));
        Assert.Equal("enqueued", await check.ExecuteScalarAsync<string>("select state from jobs where id = @j1", new { j1 }));
        Assert.Equal(JobStart.Started, await jobs.StartAsync(j1, "w", 3, default));
        var load2 = await results.LoadChunkImagesAsync(j1, [a, x], default);
        Assert.Equal([a, x], load2.Select(i => i.ImageId));
        await results.WriteChunkAsync(new ChunkResult(j1, s.ModelId, [], [new FailedImage(x, "Corrupt", "bad")], [new ReusedImage(a, 2.0)], "{}", load2), default);
        Assert.Equal(["succeeded", "failed"], await check.QueryAsync<string>("select state from images order by id"));
        Assert.Equal("succeeded", await check.ExecuteScalarAsync<string>("select state from jobs where id = @j1", new { j1 }));
    }

    [Fact]
    public async Task A_fault_from_before_a_requeue_leaves_the_requeued_job_and_its_images_alone()
    {
        // A duplicate delivery's fault, or one held up in its queue, arriving after the operator requeued the job.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 1);
        var results = new ResultStore(db);
        var jobs = new JobStore(db);
        var x = s.ImageIds[0];
        var job = (await jobs.CreateChunksAsync(s.StudyId, [x], 1, false, default))[0].JobId;
        await using var check = await db.OpenConnectionAsync();
        await check.ExecuteAsync("update jobs set enqueued_at = now() - interval '10 minutes'");   // queued ten minutes ago
        var faultedAt = DateTime.UtcNow.AddMinutes(-9);
        await jobs.MarkFailedAsync(job, "faulted", faultedAt, default);
        await results.FailUnfinishedImagesAsync(job, [x], "ChunkFailed", "faulted", default);
        Assert.Equal([job], (await new NfcPipeline.Storage.Reporting.JobAdmin(db).RequeueAsync([job], "test", (_, _) => Task.CompletedTask)).Requeued);

        // The same fault again, late: before the requeue, so it changes nothing.
        await jobs.MarkFailedAsync(job, "faulted", faultedAt, default);
        await results.FailUnfinishedImagesAsync(job, [x], "ChunkFailed", "faulted", default);

        Assert.Equal(("enqueued", "queued"), await check.QuerySingleAsync<(string, string)>(
            "select j.state, i.state from jobs j, images i where j.id = @job and i.id = @x", new { job, x }));
        // A fault of the requeued attempt itself fails it.
        await jobs.MarkFailedAsync(job, "faulted again", DateTime.UtcNow, default);
        Assert.Equal("failed", await check.ExecuteScalarAsync<string>("select state from jobs where id = @job", new { job }));
    }

    [Fact]
    public async Task A_fault_is_judged_by_when_its_message_was_queued_not_by_the_faulting_workers_clock()
    {
        // The fault's timestamp is its worker's clock: one running minutes behind the database's left a real fault
        // ignored (the job processing, its images queued for ever), one running ahead failed a requeued job.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 1);
        var jobs = new JobStore(db);
        var x = s.ImageIds[0];
        var chunk = (await jobs.CreateChunksAsync(s.StudyId, [x], 1, false, default))[0];
        Assert.NotNull(chunk.QueuedAt);
        await using var check = await db.OpenConnectionAsync();
        string State() => check.ExecuteScalar<string>("select state from jobs where id = @JobId", new { chunk.JobId })!;

        // Its own message's fault fails it, whatever the worker's clock says.
        await jobs.MarkFailedAsync(chunk.JobId, "faulted", DateTime.UtcNow.AddMinutes(-10), default, chunk.QueuedAt);
        Assert.Equal("failed", State());

        // Requeued: the message published then carries the new enqueued_at; the old message's fault, late, changes nothing.
        object? published = null;
        await new NfcPipeline.Storage.Reporting.JobAdmin(db).RequeueAsync([chunk.JobId], "test", (m, _) => { published = m; return Task.CompletedTask; });
        var requeued = Assert.IsType<NfcPipeline.Contracts.AnalyzeImages>(published);
        Assert.Equal(await check.ExecuteScalarAsync<DateTime>("select enqueued_at from jobs where id = @JobId", new { chunk.JobId }), requeued.QueuedAt);
        await jobs.MarkFailedAsync(chunk.JobId, "late", DateTime.UtcNow.AddMinutes(10), default, chunk.QueuedAt);
        Assert.Equal("enqueued", State());
        // The old message redelivered (its ack lost) is superseded: acknowledged without work, the job left as it is.
        var before = await check.QuerySingleAsync<(DateTime?, DateTime)>("select published_at, updated_at from jobs where id = @JobId", new { chunk.JobId });
        Assert.Equal(JobStart.Superseded, await jobs.StartAsync(chunk.JobId, "w1", 3, default, queuedAt: chunk.QueuedAt));
        Assert.Equal(before, await check.QuerySingleAsync<(DateTime?, DateTime)>("select published_at, updated_at from jobs where id = @JobId", new { chunk.JobId }));
        Assert.Equal("enqueued", State());
        Assert.Equal(JobStart.Started, await jobs.StartAsync(chunk.JobId, "w1", 3, default, queuedAt: requeued.QueuedAt));
        await jobs.MarkFailedAsync(chunk.JobId, "faulted again", DateTime.UtcNow.AddMinutes(-10), default, requeued.QueuedAt);
        Assert.Equal("failed", State());

        // Claimed by an outbox pass, the message carries the job's enqueued_at too.
        await check.ExecuteAsync("update jobs set state = 'enqueued', published_at = null, publish_claimed_at = null, enqueued_at = now() - interval '1 minute'");
        var claimed = Assert.Single(await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.FromMinutes(5), 10, default));
        Assert.Equal(await check.ExecuteScalarAsync<DateTime>("select enqueued_at from jobs where id = @JobId", new { chunk.JobId }), claimed.QueuedAt);
    }

    [Fact]
    public async Task A_chunks_fault_fails_its_job_and_its_images_together_or_neither()
    {
        // Two transactions: a database gone between them, past the fault's retries, left the job failed and its
        // images queued, and nothing (the stranded sweep waits for every image, orphan recovery for 'processing') healed it.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 2);
        var results = new ResultStore(db);
        var chunk = (await new JobStore(db).CreateChunksAsync(s.StudyId, s.ImageIds, 2, false, default))[0];
        var fault = new ChunkFault("TimeoutException: gone", DateTime.UtcNow, chunk.QueuedAt);
        await using var check = await db.OpenConnectionAsync();
        await check.ExecuteAsync("""
            create function refuse_image_update() returns trigger language plpgsql as $$ begin raise exception 'the database went away'; end $$;
            create trigger refuse_image_update before update on images for each row execute function refuse_image_update();
            """);
        await Assert.ThrowsAsync<PostgresException>(() => results.FailUnfinishedImagesAsync(chunk.JobId, s.ImageIds, "ChunkFailed", "x", default, fault));
        Assert.Equal("enqueued", await check.ExecuteScalarAsync<string>("select state from jobs where id = @JobId", new { chunk.JobId }));

        // Redelivered once the database is back: both.
        await check.ExecuteAsync("drop trigger refuse_image_update on images");
        Assert.Equal([s.PatientId], await results.FailUnfinishedImagesAsync(chunk.JobId, s.ImageIds, "ChunkFailed", "x", default, fault));
        Assert.Equal(("failed", "TimeoutException: gone"), await check.QuerySingleAsync<(string, string)>(
            "select state, last_error from jobs where id = @JobId", new { chunk.JobId }));
        Assert.Equal(["failed", "failed"], await check.QueryAsync<string>("select state from images order by id"));
    }

    [Fact]
    public async Task A_fault_from_another_process_leaves_a_chunk_its_live_holder_is_running()
    {
        // A redelivered copy that waited, through a long database outage, while worker A ran the chunk faulted in B: its
        // fault failed the chunk under A, and A's finished results were then thrown away as a failed job's.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 1);
        var jobs = new JobStore(db);
        var chunk = (await jobs.CreateChunksAsync(s.StudyId, s.ImageIds, 1, false, default))[0];
        const string HolderId = "host-a:101:0123abcd";
        await new WorkerStore(db).RegisterAsync(HolderId, "host-a", 101, "cpu", "CPUExecutionProvider", Model, TimeSpan.FromMinutes(1), default);
        Assert.Equal(JobStart.Started, await jobs.StartAsync(chunk.JobId, HolderId, 3, default, queuedAt: chunk.QueuedAt));
        await using var check = await db.OpenConnectionAsync();
        string State() => check.ExecuteScalar<string>("select state from jobs where id = @JobId", new { chunk.JobId })!;
        Task FaultAsync(string? faultedBy) => jobs.MarkFailedAsync(chunk.JobId, "TimeoutException", DateTime.UtcNow, default, chunk.QueuedAt, faultedBy);

        await FaultAsync("host-b:202:");
        Assert.Equal("processing", State());
        await FaultAsync("host-a:10:");   // another process on A's host
        Assert.Equal("processing", State());
        // The holder's own fault, a fault that names no process, or the holder silent past its window: failed.
        await FaultAsync("host-a:101:");
        Assert.Equal("failed", State());
        foreach (var (faultedBy, heartbeat) in new[] { ((string?)null, "now()"), ("host-b:202:", "now() - interval '2 minutes'") })
        {
            await check.ExecuteAsync($"update jobs set state = 'processing' where id = @JobId; update workers set heartbeat_at = {heartbeat}",
                new { chunk.JobId });
            await FaultAsync(faultedBy);
            Assert.Equal("failed", State());
        }
    }

    [Fact]
    public async Task Failing_a_chunks_unfinished_images_touches_only_images_its_job_lists()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 2);
        var results = new ResultStore(db);
        var job = (await new JobStore(db).CreateChunksAsync(s.StudyId, [s.ImageIds[0]], 1, false, default))[0].JobId;

        // A malformed message (a job that does not exist, or one that does not list the image) names no image to fail,
        // and a job requeued in the meantime (no longer failed) fails none of its own.
        Assert.Empty(await results.FailUnfinishedImagesAsync(987_654, s.ImageIds, "ChunkFailed", "x", default));
        Assert.Empty(await results.FailUnfinishedImagesAsync(job, s.ImageIds, "ChunkFailed", "x", default));
        await new JobStore(db).MarkFailedAsync(job, "x", DateTime.UtcNow, default);
        Assert.Equal([s.PatientId], await results.FailUnfinishedImagesAsync(job, s.ImageIds, "ChunkFailed", "x", default));
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal(["ChunkFailed", null], await check.QueryAsync<string?>("select error_code from images order by id"));
    }

    /// <summary>The seeded study analysed at 2 µm/px under <paramref name="settings"/>: its images succeeded, a result each.</summary>
    private static async Task StoreResultsAsync(NpgsqlDataSource db, Seeded s, string settings)
    {
        await using var c = await db.OpenConnectionAsync();
        await c.ExecuteAsync("""
            update images set state = 'succeeded', result_um_per_px = 2.0;
            insert into image_metrics (image_sha256, model_id, um_per_px, width, height, instance_count, distal_count, gradable, settings)
            select sha256, @ModelId, 2.0, 64, 64, 0, 0, true, @Settings::jsonb from images
            """, new { s.ModelId, Settings = settings });
    }

    [Fact]
    public async Task A_result_measured_with_other_analysis_or_decoder_settings_is_analysed_again_not_reused()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 3);
        const string measured = """{"analysis": {"giant_um": 50, "FastTrack": {"min": 7}}, "decoder": {"center": 0.15}, "software_version": "1.0"}""";
        await StoreResultsAsync(db, s, measured);
        var store = new StudyRegistrationStore(db);
        var results = new ResultStore(db);
        var shas = s.Shas.Select(sha => (sha, 2.0)).ToList();

        // Other thresholds, or other decoder options: every image is analysed again (at registration and in the chunk).
        foreach (var other in new[] { """{"analysis": {"giant_um": 45}, "decoder": {"center": 0.15}}""", """{"analysis": {"giant_um": 50}, "decoder": {"center": 0.2}}""" })
        {
            Assert.Empty(await results.ExistingResultsAsync(shas, s.ModelId, other, default));
            Assert.Equal(3, (await store.RegisterAsync(SubmittedAgain(s), s.ModelId, 2.0, false, 2, other, default)).ImagesToAnalyse.Count);
            await using var c = await db.OpenConnectionAsync();
            await c.ExecuteAsync("delete from jobs; update images set state = 'succeeded', result_um_per_px = 2.0");
        }

        // The same settings (another software version, keys in another order, other fast-track rules, which apply to
        // patients at aggregation, not to the stored image results): reused.
        const string same = """{"software_version": "1.1", "decoder": {"center": 0.15}, "analysis": {"FastTrack": {"min": 6}, "giant_um": 50}}""";
        Assert.Equal(3, (await results.ExistingResultsAsync(shas, s.ModelId, same, default)).Count);
        Assert.Empty((await store.RegisterAsync(SubmittedAgain(s), s.ModelId, 2.0, false, 2, same, default)).ImagesToAnalyse);
    }

    [Fact]
    public async Task An_instances_models_results_are_analysed_again_under_other_instances_decoder_thresholds()
    {
        // The stored settings named the dense decoder's options whatever the model: an instances/v1 model's results were
        // reused after its score threshold changed, with the counts the old threshold found.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 2);
        var analysis = NfcPipeline.Core.Options.AnalysisOptions.Default;
        const NfcPipeline.Inference.Contract.ContractKind Instances = NfcPipeline.Inference.Contract.ContractKind.InstancesV1;
        var measured = NfcPipeline.Worker.Analysis.ModelHost.Settings(analysis, new NfcPipeline.Inference.InferenceOptions(), Instances, "ab");
        Assert.Contains("\"ScoreThreshold\":0.5", measured);
        await StoreResultsAsync(db, s, measured);
        var results = new ResultStore(db);
        var shas = s.Shas.Select(sha => (sha, 2.0)).ToList();
        string SettingsWith(NfcPipeline.Inference.InferenceOptions inference) =>
            NfcPipeline.Worker.Analysis.ModelHost.Settings(analysis, inference, Instances, "ab");

        var lowered = new NfcPipeline.Inference.InferenceOptions { InstancesDecoder = new() { ScoreThreshold = 0.3f } };
        Assert.Empty(await results.ExistingResultsAsync(shas, s.ModelId, SettingsWith(lowered), default));
        Assert.Equal(2, (await new StudyRegistrationStore(db).RegisterAsync(SubmittedAgain(s), s.ModelId, 2.0, false, 2,
            SettingsWith(lowered), default)).ImagesToAnalyse.Count);
        // The dense decoder's options are not this model's: changed, the results are still the same measurement.
        var denseChanged = new NfcPipeline.Inference.InferenceOptions { Decoder = new() { CenterThreshold = 0.4f } };
        Assert.Equal(2, (await results.ExistingResultsAsync(shas, s.ModelId, SettingsWith(denseChanged), default)).Count);
    }

    [Fact]
    public async Task A_resubmission_that_reuses_every_result_finishes_no_image_for_the_overview()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 3);
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("""
                update images set state = 'succeeded', result_um_per_px = 2.0, updated_at = now() - interval '1 hour';
                insert into image_metrics (image_sha256, model_id, um_per_px, width, height, instance_count, distal_count, gradable)
                select sha256, @ModelId, 2.0, 64, 64, 0, 0, true from images
                """, new { s.ModelId });
        var registration = SubmittedAgain(s);

        var registered = await new StudyRegistrationStore(db).RegisterAsync(registration, s.ModelId, 2.0, false, 2, "{}", default);

        Assert.Empty(registered.ImagesToAnalyse);
        // Every result reused: nothing was finished now, so the overview's images/s stays 0 (it counted all 3).
        Assert.Equal(0L, (await new NfcPipeline.Storage.Reporting.ReportingQueries(db).OverviewAsync()).ImagesFinished);

        // Nor does a copy of the study under another id: its new rows reuse every result (they counted, stamped new).
        var copy = registration with { ExternalId = "race-copy", SourcePath = "race-copy" };
        var copied = await new StudyRegistrationStore(db).RegisterAsync(copy, s.ModelId, 2.0, false, 2, "{}", default);
        Assert.Equal((3, 0), (copied.ReusedImages, copied.ImagesToAnalyse.Count));
        Assert.Equal(0L, (await new NfcPipeline.Storage.Reporting.ReportingQueries(db).OverviewAsync()).ImagesFinished);
    }

    [Fact]
    public async Task A_patient_is_not_completed_while_a_registration_is_adding_an_image_to_it()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 1);
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update images set state = 'failed', error_code = 'Corrupt', error = 'x'");

        // A registration in progress: it holds the study's lock and has queued a new image, not yet committed.
        await using var registration = await db.OpenConnectionAsync();
        await using var tx = await registration.BeginTransactionAsync();
        await registration.ExecuteAsync("select pg_advisory_xact_lock(hashtextextended('nfc.study:race', 0))", transaction: tx);
        await registration.ExecuteAsync("""
            insert into images (study_id, patient_id, field, rel_path, sha256, size_bytes, state)
            values (@StudyId, @PatientId, 'f9', 'P1/L2/f9.png', sha256('new'), 1, 'queued')
            """, new { s.StudyId, s.PatientId }, tx);

        var store = new PatientResultsStore(db);
        var aggregation = store.AggregateIfDoneAsync(s.PatientId, s.ModelId, new PatientAggregator(), "{}", default);
        var study = store.CompleteStudyIfDoneAsync(s.StudyId, default);
        await LockWaiters.WaitForAdvisoryWaiterAsync(db, aggregation, "the aggregation", waiters: 2);   // both wait for the registration
        await tx.CommitAsync();

        Assert.Null(await aggregation);   // the new image is queued: not done
        Assert.Null(await study);
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal("processing", await check.ExecuteScalarAsync<string>("select state from patients"));
        Assert.Equal("processing", await check.ExecuteScalarAsync<string>("select state from studies"));
    }

    [Fact]
    public async Task An_aggregation_reads_a_result_that_another_studys_chunk_is_replacing_after_that_chunk_commits()
    {
        // Its measurements and its capillaries are two reads: a chunk of another study (the same content analysed again)
        // committing between them paired the old density with the new capillaries.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await SeedAsync(db, 1);
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update images set state = 'succeeded', result_um_per_px = 2.0");

        // The other study's write in progress: it holds the result's key, as ResultStore takes it.
        await using var writer = await db.OpenConnectionAsync();
        await using var tx = await writer.BeginTransactionAsync();
        await writer.ExecuteAsync($"select pg_advisory_xact_lock({ResultStore.ResultKey("@Sha", "@ModelId", "@Um")})",
            new { Sha = s.Shas[0], s.ModelId, Um = 2.0 }, tx);

        var aggregation = new PatientResultsStore(db).AggregateIfDoneAsync(s.PatientId, s.ModelId, new PatientAggregator(), "{}", default);
        await LockWaiters.WaitForAdvisoryWaiterAsync(db, aggregation, "the aggregation");   // waits for the write
        await tx.CommitAsync();
        Assert.NotNull(await aggregation);
    }

    [Fact]
    public async Task Two_submissions_of_one_study_at_once_queue_its_images_in_one_set_of_chunks()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        long model;
        await using (var c = await db.OpenConnectionAsync())
            model = await c.ExecuteScalarAsync<long>("insert into models (sha256, name, contract) values (@Model, 'm', 'dense/v1') returning id", new { Model });
        var registration = new StudyRegistration("twice", "twice", 2.0, null, "{}", Enumerable.Range(0, 5)
            .Select(i => new ImageRegistration("P1", "L2", $"f{i}", $"P1/L2/f{i}.png", System.Security.Cryptography.SHA256.HashData([(byte)i]), 1, 10, 10, "png"))
            .ToList());
        var store = new StudyRegistrationStore(db);

        var both = await Task.WhenAll(store.RegisterAsync(registration, model, 2.0, false, 2, "{}", default), store.RegisterAsync(registration, model, 2.0, false, 2, "{}", default));

        // The first (whichever) queued 5 images in 3 chunks in its transaction; the second found them in flight.
        Assert.Equal(3, both.Sum(r => r.Chunks.Count));
        Assert.Single(both, r => r.Chunks.Count == 0);
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal(3L, await check.ExecuteScalarAsync<long>("select count(*) from jobs where kind = 'analyze_chunk'"));
    }
}
