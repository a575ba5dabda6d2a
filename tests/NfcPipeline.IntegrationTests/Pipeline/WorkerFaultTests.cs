using System.Text;
using MassTransit;
using NfcPipeline.Contracts;
using Npgsql;
using RabbitMQ.Client;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>Faults of the workers and of the messages; the servers stay up (see ServiceOutageTests for those).</summary>
public class WorkerFaultTests
{
    private static readonly Dictionary<string, string> OneAtATime = new()
    {
        ["Inference__Batching__MaxBatchSize"] = "1",
        ["Worker__ConcurrentMessageLimit"] = "2",
    };

    [Fact]
    public async Task A_worker_killed_mid_chunk_has_its_chunk_redelivered_and_each_image_ends_with_one_result_set()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-k", patients: 2, imagesPerPatient: 10, width: 1024, height: 768);
        var first = await env.StartWorkerAsync(OneAtATime);
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-k", FolderPath = "study-k" });

        // Killed while a chunk is processing. A loaded machine can let the chunks seen processing commit before the kill
        // lands: then no chunk was interrupted, and the next worker is killed in its turn (at most three times).
        long[] interrupted = [];
        for (int kill = 0; kill < 3 && interrupted.Length == 0; kill++)
        {
            await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("select count(*) from jobs where state = 'processing'") > 0,
                TimeSpan.FromMinutes(1));
            first.Kill();
            interrupted = await env.QueryScalarAsync<long[]>("select coalesce(array_agg(id), '{}') from jobs where state = 'processing'");
            first = await env.StartWorkerAsync(OneAtATime);
        }
        Assert.NotEmpty(interrupted);

        Assert.Equal("completed", await env.WaitForStudyAsync("study-k", TimeSpan.FromMinutes(3)));
        Assert.Equal(20L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(40L, await env.QueryScalarAsync<long>("select count(*) from capillaries"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>(
            "select count(*) from (select image_sha256, instance_index from capillaries group by 1, 2 having count(*) > 1) d"));
        Assert.True(await env.QueryScalarAsync<long>("select count(*) from jobs where id = any(@Ids) and attempts >= 2", new { Ids = interrupted }) > 0,
            "no interrupted chunk was redelivered");
    }

    /// <summary>
    /// What a worker that died or hung mid-chunk leaves of the first chunk: its job processing under <paramref name="holder"/>,
    /// the chunk's images unfinished, and their patients and the study processing again.
    /// </summary>
    private static async Task<(long Job, long[] Ids, long StudyId)> FirstChunkLeftProcessingAsync(PipelineEnvironment env, string holder)
    {
        var job = await env.QueryScalarAsync<long>("select min(id) from jobs");
        var ids = await env.QueryScalarAsync<long[]>(
            "select array_agg(e::bigint order by e::bigint) from jobs, jsonb_array_elements_text(payload -> 'image_ids') e where id = @job", new { job });
        var studyId = await env.QueryScalarAsync<long>("select id from studies");
        await env.QueryScalarAsync<long>("""
            update jobs set state = 'processing', worker_id = @holder where id = @job;
            update images set state = 'processing', result_um_per_px = null where id = any(@ids);
            update patients set state = 'processing', completed_at = null where id in (select patient_id from images where id = any(@ids));
            update studies set state = 'processing', completed_at = null;
            select 0::bigint
            """, new { job, ids, holder });
        return (job, ids, studyId);
    }

    [Fact]
    public async Task A_chunk_whose_workers_keep_dying_is_given_up_and_its_study_completes_with_errors()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-x", patients: 2, imagesPerPatient: 4);
        // One abandoned start is the limit here: the dead worker below is the one death the chunk is allowed.
        await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__MaxAbandonedStarts"] = "1" });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-x", FolderPath = "study-x" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-x", TimeSpan.FromMinutes(2)));

        // What a worker that died mid-chunk leaves (A_worker_killed_mid_chunk... kills one for real; when it dies is a
        // race, so here the state is set): its job processing under its id, the chunk's images unfinished, and the
        // message, unacknowledged, delivered again to the next worker.
        var (job, ids, studyId) = await FirstChunkLeftProcessingAsync(env, "host:1:dead");
        await env.PublishAsync(new AnalyzeImages { JobId = job, StudyDbId = studyId, ImageIds = [.. ids] });

        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-x", TimeSpan.FromMinutes(2)));
        Assert.Equal("failed", await env.QueryScalarAsync<string>("select state from jobs where id = @job", new { job }));
        Assert.StartsWith("Started 1 times", await env.QueryScalarAsync<string>("select last_error from jobs where id = @job", new { job }));
        Assert.Equal(ids.Length, (int)await env.QueryScalarAsync<long>("select count(*) from images where error_code = 'WorkerStopped'"));

        // The give-up's completion threw after its images were failed (a broker blip), or failing them did: MassTransit
        // delivers the message again. The chunk is not analysed again; its images are failed (again) and completion,
        // which had not run, runs now. Before, the retry found no image left to fail, completed no patient, and the
        // study stayed processing for ever; or, with the images left unfailed, it stayed so with them queued.
        foreach (var imagesFailed in new[] { true, false })
        {
            await env.QueryScalarAsync<long>("""
                update images set state = 'processing', error = null, error_code = null where not @imagesFailed and id = any(@ids);
                update patients set state = 'processing', completed_at = null where id in (select patient_id from images where id = any(@ids));
                update studies set state = 'processing', completed_at = null;
                select 0::bigint
                """, new { ids, imagesFailed });
            await env.PublishAsync(new AnalyzeImages { JobId = job, StudyDbId = studyId, ImageIds = [.. ids] });
            Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-x", TimeSpan.FromMinutes(2)));
            Assert.Equal(ids.Length, (int)await env.QueryScalarAsync<long>("select count(*) from images where error_code = 'WorkerStopped'"));
        }
        await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(env.Workers[0].Output.Contains($"Job {job} has failed; not started again")),
            TimeSpan.FromSeconds(30), () => env.Workers[0].Output);

        // Requeued (as the failure says), the chunk runs again: its images are queued and the study processing until
        // they finish, and the study then completes cleanly, announced again.
        await using var data = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var requeue = await new NfcPipeline.Storage.Reporting.JobAdmin(data).RequeueAsync([job], "test", (m, _) => env.PublishAsync((AnalyzeImages)m));
        Assert.Equal([job], requeue.Requeued);
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'failed'"));
        Assert.Equal("completed", await env.WaitForStudyAsync("study-x", TimeSpan.FromMinutes(2)));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from patients where state <> 'completed'"));
        Assert.Equal(8L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
    }

    [Fact]
    public async Task Deleting_a_failed_chunk_that_left_its_images_unfinished_completes_their_patients_and_study()
    {
        // Its fault unrecorded (the database away): the job failed, its images still processing. Deleting it failed the
        // images, but nothing completed their patients or study until the stranded sweep, 10 minutes later.
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-d", patients: 2, imagesPerPatient: 2);
        await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-d", FolderPath = "study-d" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-d", TimeSpan.FromMinutes(2)));
        var (job, ids, _) = await FirstChunkLeftProcessingAsync(env, "host:1:gone");
        await env.QueryScalarAsync<long>("update jobs set state = 'failed', last_error = 'x' where id = @job returning id", new { job });

        await using var data = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var deletion = await new NfcPipeline.Storage.Reporting.JobAdmin(data).DeleteAsync([job], "test");
        Assert.Equal(1, deletion.Deleted);
        Assert.Equal(await env.QueryScalarAsync<long[]>("select array_agg(distinct patient_id order by patient_id) from images where id = any(@ids)", new { ids }),
            deletion.PatientsToComplete);
        foreach (var patient in deletion.PatientsToComplete) await env.PublishAsync(new ReaggregatePatient(patient, "test"));

        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-d", TimeSpan.FromSeconds(60)));
        Assert.Equal(ids.Length, (int)await env.QueryScalarAsync<long>("select count(*) from images where error_code = 'JobDeleted'"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from patients where state = 'processing'"));
    }

    [Fact]
    public async Task A_chunk_that_fails_after_its_retries_fails_its_images_and_the_study_completes_with_errors()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-f", patients: 1, imagesPerPatient: 4);
        await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__MessageRetryLimit"] = "0" });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-f", FolderPath = "study-f" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-f", TimeSpan.FromMinutes(2)));

        // Analysed again, every chunk's write keeps failing: the database refuses the results (a trigger standing in for
        // any fault that outlasts the retries). Before, the jobs failed and the images stayed queued for ever.
        await env.QueryScalarAsync<long>("""
            create function refuse_results() returns trigger language plpgsql as $$ begin raise exception 'refused for the test'; end $$;
            create trigger refuse_results before insert on image_metrics for each row execute function refuse_results();
            select 0::bigint
            """);
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-f", FolderPath = "study-f", Reanalyze = true });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("select count(*) from jobs where state = 'failed'") == 2,
            TimeSpan.FromMinutes(2), () => string.Join("\n---\n", env.Workers.Select(w => w.Output)));

        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-f", TimeSpan.FromMinutes(3)));
        Assert.Equal(4L, await env.QueryScalarAsync<long>("select count(*) from images where error_code = 'ChunkFailed'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from jobs where state = 'failed'"));
    }

    [Fact]
    public async Task Two_workers_on_one_queue_process_every_image_exactly_once()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-2", patients: 4, imagesPerPatient: 4);
        // The outbox's test setting (3 s) lets a busy host's slow publish confirms count as "never published", and the
        // other worker republishes: at-least-once by design, but then attempts would not be 1. Here, the default.
        var outboxAtDefault = new Dictionary<string, string> { ["Worker__RepublishAfter"] = "00:00:30" };
        await env.StartWorkerAsync(outboxAtDefault);
        await env.StartWorkerAsync(outboxAtDefault);

        await env.SubmitAsync(new SubmitStudy { StudyId = "study-2", FolderPath = "study-2" });

        Assert.Equal("completed", await env.WaitForStudyAsync("study-2", TimeSpan.FromMinutes(2)));
        Assert.Equal(8L, await env.QueryScalarAsync<long>("select count(*) from jobs where attempts = 1 and state = 'succeeded'"));
        Assert.Equal(16L, await env.QueryScalarAsync<long>("select count(*) from images where attempts = 1 and state = 'succeeded'"));
        Assert.Equal(16L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(32L, await env.QueryScalarAsync<long>("select count(*) from capillaries"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(distinct worker_id) from jobs"));
        Assert.Equal(4L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));
    }

    [Fact]
    public async Task Malformed_messages_go_to_the_error_queue_and_the_worker_keeps_working()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-m", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync();

        var factory = new ConnectionFactory { Uri = env.Vhost.AmqpUri };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true };
            await channel.BasicPublishAsync("analyze-images", "", mandatory: false, properties, Encoding.UTF8.GetBytes("{ this is not json"));
        }
        await env.SubmitAsync(new SubmitStudy { StudyId = "bad-path", FolderPath = "../../etc" });
        // A marked study folder with no images (or one emptied since its last run) registers nothing.
        Directory.CreateDirectory(Path.Combine(env.Share.FullName, "empty-study"));
        File.WriteAllText(Path.Combine(env.Share.FullName, "empty-study", "study.json"), """{"um_per_px": 2.0}""");
        await env.SubmitAsync(new SubmitStudy { StudyId = "empty-study", FolderPath = "empty-study" });
        await env.PublishAsync(new AnalyzeImages { JobId = 987654, StudyDbId = 1, ImageIds = [1] });

        await PipelineEnvironment.WaitUntilAsync(async () => await env.Vhost.QueueDepthAsync("analyze-images_error") >= 2
            && await env.Vhost.QueueDepthAsync("submit-study_error") >= 2, TimeSpan.FromMinutes(1), () => worker.Output);
        Assert.False(worker.HasExited);
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-m", FolderPath = "study-m" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-m", TimeSpan.FromMinutes(2)));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from studies where external_id = 'bad-path'"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from studies where external_id = 'empty-study'"));
        Assert.Contains("holds no images", worker.Output);

        // Messages naming a real job, but not its study or not its images (hand-made, or another deployment's on this
        // broker): refused, and the job is neither run, marked done with nothing written, nor failed by their faults.
        var studyId = await env.QueryScalarAsync<long>("select id from studies where external_id = 'study-m'");
        var imageId = await env.QueryScalarAsync<long>("select min(id) from images");
        var waiting = await env.QueryScalarAsync<long>($"""
            insert into jobs (kind, study_id, payload, state, published_at)
            values ('analyze_chunk', {studyId}, jsonb_build_object('image_ids', jsonb_build_array({imageId}), 'reanalyze', false), 'enqueued', now())
            returning id
            """);
        await env.PublishAsync(new AnalyzeImages { JobId = waiting, StudyDbId = studyId, ImageIds = [] });
        await env.PublishAsync(new AnalyzeImages { JobId = waiting, StudyDbId = studyId + 1, ImageIds = [imageId] });
        await env.PublishAsync(new AnalyzeImages { JobId = waiting, StudyDbId = studyId, ImageIds = [imageId, imageId + 1] });
        await env.PublishAsync(new AnalyzeImages { JobId = waiting, StudyDbId = studyId, ImageIds = null! });   // JSON null
        await PipelineEnvironment.WaitUntilAsync(async () => await env.Vhost.QueueDepthAsync("analyze-images_error") >= 6
            && worker.Output.Split("the job is left as it is").Length > 4, TimeSpan.FromMinutes(1), () => worker.Output);
        Assert.Equal("enqueued:0", await env.QueryScalarAsync<string>($"select state || ':' || attempts from jobs where id = {waiting}"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from images where state <> 'succeeded'"));
        Assert.Contains("is not the chunk of study", worker.Output);
        Assert.Contains("names no images (ImageIds is null)", worker.Output);
    }

    [Theory]
    [InlineData(0)]      // started just now: the delivery waits out the limit, then takes it over
    [InlineData(3600)]   // started an hour ago (a redelivery after the broker's ack timeout): taken over at once
    public async Task A_redelivered_chunk_held_by_a_live_but_stuck_worker_is_taken_over_after_the_wait_limit(int heldSeconds)
    {
        // The holder's heartbeat kept moving (its process alive) while its chunk hung: the redelivery waited for ever,
        // and the study with it. The limit counts from the holder's start: counted from each delivery, a redelivery
        // after the ack timeout waited the whole limit again, and a second time after its turn came.
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-h", patients: 1, imagesPerPatient: 2);
        await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Worker__HeartbeatInterval"] = "00:00:01", ["Worker__RedeliveryWaitLimit"] = "00:00:08",
        });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-h", FolderPath = "study-h" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-h", TimeSpan.FromMinutes(2)));

        await env.QueryScalarAsync<int>("insert into workers (id, host, pid) values ('host:1:stuck', 'host', 1); select 1");
        var (job, ids, studyId) = await FirstChunkLeftProcessingAsync(env, "host:1:stuck");
        await env.QueryScalarAsync<int>("update jobs set started_at = now() - make_interval(secs => @heldSeconds) where id = @job; select 1",
            new { heldSeconds, job });
        using var alive = new CancellationTokenSource();
        var heartbeat = Task.Run(async () =>
        {
            while (!alive.IsCancellationRequested)
            {
                await env.QueryScalarAsync<int>("update workers set heartbeat_at = now() where id = 'host:1:stuck'; select 1");
                await Task.Delay(500);
            }
        });
        try
        {
            await env.PublishAsync(new AnalyzeImages { JobId = job, StudyDbId = studyId, ImageIds = [.. ids] });
            Assert.Equal("completed", await env.WaitForStudyAsync("study-h", TimeSpan.FromMinutes(2)));
        }
        finally
        {
            await alive.CancelAsync();
            await heartbeat;
        }
        var output = env.Workers[0].Output;
        Assert.Contains($"Job {job} has been processing under another live worker for {(heldSeconds == 0 ? "00:00:" : "01:00:")}", output);
        Assert.Equal(heldSeconds == 0, output.Contains($"Job {job} is processing under another worker; this delivery waits", StringComparison.Ordinal));
        Assert.Contains($"Job {job} was abandoned before by a worker that stopped while analysing it; it runs alone", env.Workers[0].Output);
        Assert.Equal("succeeded|1", await env.QueryScalarAsync<string>("select state || '|' || abandoned_starts from jobs where id = @job", new { job }));
    }

    [Fact]
    public async Task A_worker_whose_row_was_deleted_as_silent_registers_again_on_its_next_heartbeat()
    {
        // Housekeeping deletes workers silent for Worker:KeepHistory; one that comes back (suspended, cut off) heartbeated into no row,
        // invisible, and redeliveries of its chunks took it for dead.
        await using var env = await PipelineEnvironment.CreateAsync();
        var worker = await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__HeartbeatInterval"] = "00:00:01" });
        await env.QueryScalarAsync<int>($"delete from workers where pid = {worker.Pid}; select 1");

        // The row and the log line, which reaches the captured output a moment after the row is back.
        await PipelineEnvironment.WaitUntilAsync(async () =>
            await env.QueryScalarAsync<long>($"select count(*) from workers where pid = {worker.Pid} and state = 'running'") == 1
            && worker.Output.Contains("registered again", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), () => worker.Output);
    }

    [Fact]
    public async Task A_graceful_stop_finishes_the_chunks_in_flight_and_leaves_nothing_half_done()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-g", patients: 2, imagesPerPatient: 8, width: 1024, height: 768);
        var worker = await env.StartWorkerAsync(OneAtATime);
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-g", FolderPath = "study-g" });
        long[] inFlight = [];
        await PipelineEnvironment.WaitUntilAsync(async () =>
                (inFlight = await env.QueryScalarAsync<long[]>("select coalesce(array_agg(id), '{}') from jobs where state = 'processing'")).Length > 0,
            TimeSpan.FromMinutes(1));

        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(90)));

        // The chunks it was analysing when told to stop were finished and committed, not cancelled or sent back.
        Assert.Equal(inFlight.Length, await env.QueryScalarAsync<long>("select count(*) from jobs where id = any(@inFlight) and state = 'succeeded'", new { inFlight }));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where state = 'processing'"));
        Assert.Equal("stopped", await env.QueryScalarAsync<string>($"select state from workers where pid = {worker.Pid}"));
        var done = await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'");
        Assert.Equal(done, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        await env.StartWorkerAsync(OneAtATime);
        Assert.Equal("completed", await env.WaitForStudyAsync("study-g", TimeSpan.FromMinutes(3)));
        Assert.Equal(16L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
    }

    [Fact]
    public async Task A_chunk_cancelled_at_the_stop_timeout_goes_back_to_the_outbox_and_the_next_worker_finishes_it()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-c", patients: 1, imagesPerPatient: 4, width: 4000, height: 3000);
        // One chunk of four 12-megapixel fields, one image per batch: seconds of work against a one-second stop timeout.
        var slow = new Dictionary<string, string>(OneAtATime) { ["Worker__StopTimeout"] = "00:00:01", ["Worker__ChunkSize"] = "4" };
        var worker = await env.StartWorkerAsync(slow);
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-c", FolderPath = "study-c" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("select count(*) from jobs where state = 'processing'") > 0,
            TimeSpan.FromMinutes(1));

        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(60)));

        var jobs = await env.QueryScalarAsync<string>("select string_agg(state || ': ' || coalesce(last_error, ''), '; ') from jobs where kind = 'analyze_chunk'");
        Assert.True(jobs == "retrying: Cancelled when its worker stopped; published again by the next worker.", $"jobs: {jobs}\nworker:\n{worker.Output}");
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where published_at is not null"));   // back in the outbox
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));   // nothing of it committed

        await env.StartWorkerAsync(OneAtATime);
        Assert.Equal("completed", await env.WaitForStudyAsync("study-c", TimeSpan.FromMinutes(3)));
        Assert.Equal(4L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where state <> 'succeeded' and kind = 'analyze_chunk'"));
    }
}
