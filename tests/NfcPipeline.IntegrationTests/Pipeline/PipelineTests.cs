using NfcPipeline.Contracts;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>The pipeline end to end through real worker processes, PostgreSQL and RabbitMQ.</summary>
public class PipelineTests
{
    [Fact]
    public async Task With_QuorumQueues_the_work_queues_are_quorum_queues_and_a_study_still_completes()
    {
        // Replicated queues for a broker cluster: a node lost must not take queued chunks with it.
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-q", patients: 1, imagesPerPatient: 2);
        await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__QuorumQueues"] = "true" });

        await env.SubmitAsync(new SubmitStudy { StudyId = "study-q", FolderPath = "study-q" });

        Assert.Equal("completed", await env.WaitForStudyAsync("study-q", TimeSpan.FromMinutes(2)));
        // A submission the worker refuses goes to its _error queue, which must survive a node too.
        await env.SubmitAsync(new SubmitStudy { StudyId = "missing", FolderPath = "no-such-folder" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.Vhost.QueueDepthAsync("submit-study_error") >= 1, TimeSpan.FromMinutes(1));
        foreach (var queue in new[] { "submit-study", "analyze-images", "analyze-images-fault", "submit-study_error" })
            Assert.True(await env.Vhost.QueueTypeAsync(queue) == "quorum", $"{queue}: {await env.Vhost.QueueTypeAsync(queue)}");
    }

    [Fact]
    public async Task A_submitted_study_is_analysed_into_the_expected_rows()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        var images = env.WriteStudy("study-a", patients: 2, imagesPerPatient: 3);
        await env.StartWorkerAsync();

        await env.SubmitAsync(new SubmitStudy { StudyId = "study-a", FolderPath = "study-a" });
        var state = await env.WaitForStudyAsync("study-a", TimeSpan.FromMinutes(2));

        Assert.Equal("completed", state);
        Assert.Equal(6L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal(6L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(6L * ColourStudy.CapillariesPerImage, await env.QueryScalarAsync<long>("select count(*) from capillaries"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patients where state = 'completed'"));
        Assert.Equal(3L, await env.QueryScalarAsync<long>("select count(*) from jobs where kind = 'analyze_chunk' and state = 'succeeded'"));
        Assert.Equal(2.0, await env.QueryScalarAsync<double>("select min(um_per_px) from image_metrics"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from v_patient_summary"));
        Assert.Equal(100.0, await env.QueryScalarAsync<double>("select percent_done::float8 from v_study_progress where study = 'study-a'"));
        Assert.Equal(6L, await env.QueryScalarAsync<long>("select count(*) from v_image_results where model = 'dense-colour-fixture' and instance_count = 2"));
        // Each result keeps its notes: two loops make a sparse distal row, which the quality says and the notes explain.
        Assert.Equal(6L, await env.QueryScalarAsync<long>(
            "select count(*) from v_image_results where quality = 'Limited' and notes[1] similar to 'Sparse distal row: [12] capillar(y|ies), fewer than 3.'"));
        Assert.All(images, rel => Assert.True(File.Exists(Path.Combine(env.Share.FullName, "study-a", rel))));

        // Its heartbeat reports what it did (the dashboard's servers page), and it reports itself ready: database, broker, model.
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>(
                "select count(*) from workers where state = 'running' and images_processed = 6 and (last_batch ->> 'batches')::int >= 1") == 1,
            TimeSpan.FromMinutes(1), () => env.Workers[0].Output);
        Assert.Equal((200, "Healthy"), await env.Workers[0].GetHealthAsync("/health/ready", TimeSpan.FromSeconds(30)));
        Assert.Equal((200, "Healthy"), await env.Workers[0].GetHealthAsync("/health/live", TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Resubmitting_a_study_adds_no_rows_and_runs_no_second_inference()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-r", patients: 1, imagesPerPatient: 4);
        await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-r", FolderPath = "study-r" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-r", TimeSpan.FromMinutes(2)));
        var capillaries = await env.QueryScalarAsync<long>("select count(*) from capillaries");
        var analysedAt = await env.QueryScalarAsync<DateTime>("select max(analysed_at) from image_metrics");
        await env.QueryScalarAsync<long>("update studies set state = 'processing' where external_id = 'study-r' returning 1");

        await env.SubmitAsync(new SubmitStudy { StudyId = "study-r", FolderPath = "study-r" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-r", TimeSpan.FromMinutes(2)));

        Assert.Equal(capillaries, await env.QueryScalarAsync<long>("select count(*) from capillaries"));
        Assert.Equal(analysedAt, await env.QueryScalarAsync<DateTime>("select max(analysed_at) from image_metrics"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from jobs"));           // the first run's two chunks only
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from studies"));
        Assert.Equal(4L, await env.QueryScalarAsync<long>("select count(*) from images"));
    }

    [Fact]
    public async Task A_corrupt_image_fails_alone_with_its_reason_and_the_study_completes_with_errors()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-c", patients: 2, imagesPerPatient: 2);
        File.WriteAllText(Path.Combine(env.Share.FullName, "study-c", "P002", "L3", "broken.jpg"), "this is not a JPEG");
        await env.StartWorkerAsync();

        await env.SubmitAsync(new SubmitStudy { StudyId = "study-c", FolderPath = "study-c" });

        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-c", TimeSpan.FromMinutes(2)));
        Assert.Equal("Unsupported", await env.QueryScalarAsync<string>("select error_code from images where rel_path = 'P002/L3/broken.jpg' and state = 'failed'"));
        Assert.Equal(4L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from patients where code = 'P001'"));
        Assert.Equal("completed_with_errors", await env.QueryScalarAsync<string>("select state from patients where code = 'P002'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));
        Assert.Equal("this is not a JPEG", File.ReadAllText(Path.Combine(env.Share.FullName, "study-c", "P002", "L3", "broken.jpg")));

        // The summary says what each result stands on: the calibration, the fields without a result, the model, the software.
        Assert.Equal("P001 2 0 completed 64 NfcPipeline|P002 2 1 completed_with_errors 64 NfcPipeline", await env.QueryScalarAsync<string>("""
            select string_agg(concat_ws(' ', patient, um_per_px, failed_fields, patient_state, length(model_sha256), split_part(software_version, ' ', 1)), '|' order by patient)
            from v_patient_summary
            """));
    }

    [Fact]
    public async Task A_socket_or_fifo_named_like_an_image_fails_alone_without_blocking_the_worker()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-u", patients: 2, imagesPerPatient: 1);
        // Listed with the study's files, but open(2) refuses a socket and blocks on a FIFO until a writer comes.
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream,
            System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(env.Share.FullName, "study-u", "P002", "L2", "field9.jpg")));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(env.Share.FullName, "study-u", "P001", "L2", "field9.jpg")))
            await mkfifo.WaitForExitAsync();
        await env.StartWorkerAsync();

        await env.SubmitAsync(new SubmitStudy { StudyId = "study-u", FolderPath = "study-u" });

        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-u", TimeSpan.FromMinutes(2)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where rel_path like '%/field9.jpg' and state = 'failed' and error_code = 'NotAFile'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));
    }
}
