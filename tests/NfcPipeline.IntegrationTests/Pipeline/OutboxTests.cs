using Dapper;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Pipeline;
using Npgsql;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>The jobs table as the outbox: claims, releases and publishes against the real database and broker.</summary>
public class OutboxTests
{
    [Fact]
    public async Task A_claimed_job_is_not_claimed_again_until_released_published_or_its_claim_expires()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        await using var db = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var jobs = new JobStore(db);
        var study = await NewStudyAsync(db);
        var created = await jobs.CreateChunksAsync(study, [1, 2, 3], chunkSize: 1, reanalyze: false, default);
        var ids = created.Select(c => c.JobId).ToArray();
        var hour = TimeSpan.FromHours(1);
        // Created under their publisher's claim: no outbox pass takes them while it holds it.
        Assert.All(created, c => Assert.NotNull(c.PublishClaim));
        Assert.Empty(await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, hour, 100, default));
        await Task.Delay(300);

        // That publisher died: its claims expire.
        var first = await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.FromMilliseconds(100), 100, default);
        Assert.Equal(ids, first.Select(c => c.JobId).Order());
        Assert.Equal(new long[] { 1 }, first.Single(c => c.JobId == ids[0]).ImageIds);
        Assert.Empty(await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, hour, 100, default));   // claimed, not published
        Assert.Equal(3L, await env.QueryScalarAsync<long>("select count(*) from jobs where published_at is null"));
        await jobs.MarkPublishedAsync(created, default);   // the dead publisher's late stamps: no longer its claims
        Assert.Equal(3L, await env.QueryScalarAsync<long>("select count(*) from jobs where published_at is null"));

        ChunkJob Claimed(long id) => first.Single(c => c.JobId == id);
        await jobs.ReleaseAsync([Claimed(ids[0])], default);   // its publish failed
        var again = await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, hour, 100, default);
        Assert.Equal(new[] { ids[0] }, again.Select(c => c.JobId));

        await jobs.MarkPublishedAsync([again[0], Claimed(ids[1])], default);   // the broker confirmed these
        await jobs.ReleaseAsync([again[0]], default);                         // a late release does not unpublish
        await Task.Delay(300);
        // ids[2]'s claimer died before it published or released: its claim expires and the job is claimed again.
        Assert.Empty(await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, hour, 100, default));
        Assert.Equal(new[] { ids[2] }, (await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.FromMilliseconds(100), 100, default)).Select(c => c.JobId));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from jobs where published_at is not null and publish_claimed_at is null"));

        // Young jobs are left to the publisher that committed them.
        await jobs.CreateChunksAsync(study, [4], chunkSize: 1, reanalyze: false, default);
        Assert.Empty(await jobs.ClaimUnpublishedAsync(TimeSpan.FromMinutes(1), TimeSpan.Zero, 100, default));
    }

    [Fact]
    public async Task A_publish_confirmed_after_its_chunk_went_back_to_the_outbox_leaves_it_for_the_outbox()
    {
        // A worker took the chunk's message before the publisher's stamp, hit its stop deadline and sent the chunk back
        // to the outbox (message acknowledged). The publisher's late stamp must not mark it published: no message would
        // remain anywhere, and its study would never complete.
        await using var env = await PipelineEnvironment.CreateAsync();
        await using var db = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var jobs = new JobStore(db);
        var created = await jobs.CreateChunksAsync(await NewStudyAsync(db), [1], chunkSize: 1, reanalyze: false, default);
        var id = created[0].JobId;

        Assert.Equal(JobStart.Started, await jobs.StartAsync(id, "worker-a", maxAbandonedStarts: 3, default));
        await jobs.MarkRetryingAsync(id, "worker-a", "stopping", backToOutbox: true, default);
        await jobs.MarkPublishedAsync(created, default);

        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where id = @id and published_at is not null", new { id }));
        var republish = await jobs.ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.FromHours(1), 100, default);
        Assert.Equal(new[] { id }, republish.Select(c => c.JobId));
        await jobs.MarkPublishedAsync(republish, default);   // the outbox pass's own stamp counts
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from jobs where id = @id and published_at is not null", new { id }));
        await Assert.ThrowsAsync<ArgumentException>(() => jobs.MarkPublishedAsync([new ChunkJob(id, 0, [1], false)], default));
    }

    [Fact]
    public async Task Jobs_committed_but_never_published_are_published_by_a_worker_even_under_a_dead_dispatchers_claim()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-o", patients: 1, imagesPerPatient: 2);
        await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-o", FolderPath = "study-o" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-o", TimeSpan.FromMinutes(2)));

        // Two reanalysis chunks committed as a crash would leave them: one never published, one claimed by a dispatcher
        // that died before publishing (its claim an hour old).
        await using var db = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var study = await env.QueryScalarAsync<long>("select id from studies where external_id = 'study-o'");
        var images = (await db.CreateConnection().QueryAsync<long>("select id from images where study_id = @study order by id", new { study })).ToList();
        var chunks = await new JobStore(db).CreateChunksAsync(study, images, chunkSize: 1, reanalyze: true, default);
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update jobs set publish_claimed_at = now() - interval '1 hour' where id = @Id", new { Id = chunks[1].JobId });

        var ids = chunks.Select(c => c.JobId).ToArray();
        await PipelineEnvironment.WaitUntilAsync(async () =>
            await env.QueryScalarAsync<long>("select count(*) from jobs where id = any(@ids) and state = 'succeeded' and published_at is not null", new { ids }) == 2,
            TimeSpan.FromMinutes(1), () => env.Workers[0].Output);
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where study_id = @study and state = 'succeeded'", new { study }));
        Assert.Contains("committed but not published", env.Workers[0].Output);
    }

    [Fact]
    public async Task A_chunk_delivered_again_after_its_commit_or_after_its_deletion_does_no_work()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-d", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-d", FolderPath = "study-d" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-d", TimeSpan.FromMinutes(2)));
        await using var db = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var study = await env.QueryScalarAsync<long>("select id from studies where external_id = 'study-d'");
        var job = await env.QueryScalarAsync<long>("select min(id) from jobs where kind = 'analyze_chunk'");
        var images = (await db.CreateConnection().QueryAsync<long>("select id from images where study_id = @study order by id", new { study })).ToList();
        var analysedAt = await env.QueryScalarAsync<DateTime>("select max(analysed_at) from image_metrics");

        // At-least-once delivery: the same message again (its ack was lost), then a message for a job an operator deleted.
        await env.PublishAsync(new AnalyzeImages { JobId = job, StudyDbId = study, ImageIds = images });
        await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.Output.Contains($"Job {job} was already committed")),
            TimeSpan.FromMinutes(1), () => worker.Output);
        var deleted = (await new JobStore(db).CreateChunksAsync(study, images, chunkSize: 2, reanalyze: true, default))[0].JobId;
        await env.QueryScalarAsync<long>($"update jobs set state = 'deleted' where id = {deleted} returning 1");
        await env.PublishAsync(new AnalyzeImages { JobId = deleted, StudyDbId = study, ImageIds = images, Reanalyze = true });
        await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.Output.Contains($"Job {deleted} was deleted")),
            TimeSpan.FromMinutes(1), () => worker.Output);

        Assert.Equal(analysedAt, await env.QueryScalarAsync<DateTime>("select max(analysed_at) from image_metrics"));   // nothing analysed again
        Assert.Equal(("succeeded", "deleted"), (await env.QueryScalarAsync<string>($"select state from jobs where id = {job}"),
            await env.QueryScalarAsync<string>($"select state from jobs where id = {deleted}")));
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from studies where external_id = 'study-d'"));
        Assert.Equal(0L, await env.Vhost.QueueDepthAsync("analyze-images_error"));
    }

    [Fact]
    public async Task A_committed_chunk_delivered_again_to_a_worker_of_another_model_completes_under_the_studys_model()
    {
        // A rolling model change: the message of a committed chunk, redelivered to a worker that loaded another model,
        // aggregated the patient under that model, from none of its fields (no result of it), and saved that result.
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-m", patients: 1, imagesPerPatient: 2);
        var first = await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-m", FolderPath = "study-m" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-m", TimeSpan.FromMinutes(2)));
        await first.StopAsync(TimeSpan.FromSeconds(30));
        var other = await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Inference__ModelPath"] = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "dense_colour_external.onnx"),
        });
        await using var db = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var study = await env.QueryScalarAsync<long>("select id from studies where external_id = 'study-m'");
        var model = await env.QueryScalarAsync<long>("select model_id from studies where id = @study", new { study });
        var job = await env.QueryScalarAsync<long>("select min(id) from jobs where kind = 'analyze_chunk'");
        var images = (await db.CreateConnection().QueryAsync<long>("select id from images where study_id = @study order by id", new { study })).ToList();
        var computed = await env.QueryScalarAsync<DateTime>("select computed_at from patient_metrics where model_id = @model", new { model });

        await env.PublishAsync(new AnalyzeImages { JobId = job, StudyDbId = study, ImageIds = images });

        // Aggregated again under the study's model, and under no other.
        // The log line can reach the test after the commit: waited for with it.
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<DateTime>(
            "select computed_at from patient_metrics where model_id = @model", new { model }) > computed
            && other.Output.Contains($"Job {job} was already committed"), TimeSpan.FromMinutes(1), () => other.Output);
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics where model_id <> @model", new { model }));
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from studies where id = @study", new { study }));
    }

    [Fact]
    public async Task Jobs_that_ran_or_were_deleted_are_trimmed_after_the_kept_history_and_failed_or_unfinished_ones_kept()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        await using var db = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var jobs = new JobStore(db);
        var study = await NewStudyAsync(db);
        var ids = (await jobs.CreateChunksAsync(study, [1, 2, 3, 4, 5, 6, 7], chunkSize: 1, reanalyze: false, default)).Select(c => c.JobId).ToArray();
        // Old: succeeded, deleted, failed, enqueued, processing; recent: succeeded, deleted.
        string[] states = ["succeeded", "deleted", "failed", "enqueued", "processing", "succeeded", "deleted"];
        for (int i = 0; i < ids.Length; i++)
            await env.QueryScalarAsync<int>("update jobs set state = @state, updated_at = now() - @age where id = @id returning 1",
                new { id = ids[i], state = states[i], age = TimeSpan.FromDays(i < 5 ? 31 : 29) });

        // One row per statement: the loop goes on past each full statement and stops after a short one.
        Assert.Equal(2, await jobs.TrimFinishedAsync(TimeSpan.FromDays(30), default, perStatement: 1));
        await using (var c = await db.OpenConnectionAsync())
            Assert.Equal(ids[2..], (await c.QueryAsync<long>("select id from jobs order by id")).ToArray());
        Assert.Equal(0, await jobs.TrimFinishedAsync(TimeSpan.FromDays(30), default));
    }

    private static async Task<long> NewStudyAsync(NpgsqlDataSource db)
    {
        await using var c = await db.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<long>("insert into studies (external_id) values ('outbox-study') returning id");
    }
}
