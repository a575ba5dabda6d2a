using System.Net;
using System.Text.RegularExpressions;
using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Reporting;
using Npgsql;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Requeue, delete and scan-now against real PostgreSQL (and, end to end, the real broker).</summary>
public partial class JobAdminTests
{
    [Fact]
    public async Task Requeue_resets_the_row_and_publishes_AnalyzeImages_from_its_payload()
    {
        await using var data = await TestData.CreateAsync();
        await using var source = NpgsqlDataSource.Create(data.Database.ConnectionString);
        var published = new List<object>();
        var result = await new JobAdmin(source).RequeueAsync([data.FailedJobId], "dashboard:olga (basic)", (m, _) => { published.Add(m); return Task.CompletedTask; });

        Assert.Equal([data.FailedJobId], result.Requeued);
        var message = Assert.IsType<AnalyzeImages>(Assert.Single(published));
        Assert.Equal(data.FailedJobId, message.JobId);
        Assert.Equal(data.StudyId, message.StudyDbId);
        Assert.Equal([data.ImageIds[2]], message.ImageIds);
        Assert.False(message.Reanalyze);
        Assert.Equal("enqueued", await data.JobStateAsync(data.FailedJobId));
        Assert.Null(await data.Database.ScalarAsync<string>($"select last_error from jobs where id = {data.FailedJobId}"));
        var audit = Assert.Single(await AuditLog.LatestAsync(source, 10));
        Assert.Equal(("dashboard:olga (basic)", AuditLog.RequeueJobs, "jobs by id"), (audit.Actor, audit.Action, audit.Subject));
        Assert.Equal(data.FailedJobId, System.Text.Json.JsonDocument.Parse(audit.Details).RootElement.GetProperty("requeued")[0].GetInt64());
    }

    [Fact]
    public async Task Requeue_all_failed_takes_only_the_jobs_its_study_and_kind_filters_name()
    {
        await using var data = await TestData.CreateAsync();
        var other = await data.Database.ScalarAsync<long>("insert into studies (external_id, source_path, state) values ('STUDY-B', 'studyB', 'processing') returning id");
        var otherChunk = await data.Database.ScalarAsync<long>(
            $"insert into jobs (kind, study_id, state, payload) values ('analyze_chunk', {other}, 'failed', '{{\"image_ids\": []}}') returning id");
        var scan = await data.Database.ScalarAsync<long>("insert into jobs (kind, state, payload) values ('scan_share', 'failed', '{}') returning id");
        await using var source = NpgsqlDataSource.Create(data.Database.ConnectionString);
        var admin = new JobAdmin(source);
        var published = new List<object>();
        Task Publish(object m, CancellationToken _) { published.Add(m); return Task.CompletedTask; }

        Assert.Equal([data.FailedJobId], (await admin.RequeueAllFailedAsync(null, TestData.StudyExternalId, "test", Publish)).Requeued);
        Assert.Equal("failed", await data.JobStateAsync(otherChunk));
        Assert.Equal([scan], (await admin.RequeueAllFailedAsync("scan_share", null, "test", Publish)).Requeued);
        Assert.Equal("failed", await data.JobStateAsync(otherChunk));
        Assert.Equal([otherChunk], (await admin.RequeueAllFailedAsync(null, null, "test", Publish)).Requeued);
        Assert.Equal([typeof(AnalyzeImages), typeof(ScanShareNow), typeof(AnalyzeImages)], published.Select(m => m.GetType()));
    }

    [Fact]
    public async Task A_bulk_requeue_takes_its_limit_and_says_that_more_matched()
    {
        await using var data = await TestData.CreateAsync();
        for (int i = 0; i < 3; i++) await data.Database.ScalarAsync<long>("insert into jobs (kind, state, payload) values ('scan_share', 'failed', '{}') returning id");
        await using var source = NpgsqlDataSource.Create(data.Database.ConnectionString);
        var admin = new JobAdmin(source, bulkLimit: 2);
        Task Publish(object m, CancellationToken _) => Task.CompletedTask;

        var first = await admin.RequeueAllFailedAsync("scan_share", null, "test", Publish);
        Assert.Equal((2, true), (first.Requeued.Count, first.MoreMatched));
        var second = await admin.RequeueAllFailedAsync("scan_share", null, "test", Publish);
        Assert.Equal((1, false), (second.Requeued.Count, second.MoreMatched));
        Assert.Equal(0, await data.Database.ScalarAsync<long>("select count(*) from jobs where kind = 'scan_share' and state = 'failed'"));
    }

    [Fact]
    public async Task Requeue_stalled_takes_chunk_jobs_untouched_for_longer_than_asked_in_any_unfinished_state()
    {
        // Their messages lost (a purged queue; a fault unrecorded through a long database outage): nothing else would
        // publish them again, and their studies would wait for ever.
        await using var data = await TestData.CreateAsync();
        async Task<long> Job(string state, string age) => await data.Database.ScalarAsync<long>(
            $"insert into jobs (kind, study_id, state, payload, updated_at) values ('analyze_chunk', {data.StudyId}, '{state}', " +
            $"'{{\"image_ids\": [{data.ImageIds[0]}]}}', now() - interval '{age}') returning id");
        long enqueued = await Job("enqueued", "2 hours"), processing = await Job("processing", "3 hours"), retrying = await Job("retrying", "2 hours");
        long recent = await Job("processing", "10 minutes"), done = await Job("succeeded", "5 hours");
        await using var source = NpgsqlDataSource.Create(data.Database.ConnectionString);
        var published = new List<object>();

        var result = await new JobAdmin(source).RequeueStalledAsync(TimeSpan.FromHours(1), "cli:test@host",
            (m, _) => { published.Add(m); return Task.CompletedTask; });

        Assert.Equal([enqueued, processing, retrying], result.Requeued);
        Assert.Equal([enqueued, processing, retrying], published.Cast<AnalyzeImages>().Select(m => m.JobId));
        Assert.Equal("enqueued", await data.JobStateAsync(processing));
        Assert.Equal("processing", await data.JobStateAsync(recent));
        Assert.Equal("succeeded", await data.JobStateAsync(done));
        Assert.Contains("stalled for over 01:00:00", await data.Database.ScalarAsync<string>("select subject from audit_log order by id desc limit 1"));
    }

    [Fact]
    public async Task A_requeue_waits_for_a_chunk_write_holding_its_study_without_deadlocking_it()
    {
        // A worker writing the given-up chunk holds the study's lock and then updates the job row; the requeue must
        // take the study's lock before the job row's, or each waits for the other.
        await using var data = await TestData.CreateAsync();
        await using var source = NpgsqlDataSource.Create(data.Database.ConnectionString);
        await using var writer = await source.OpenConnectionAsync();
        await using var tx = await writer.BeginTransactionAsync();
        await using (var lockStudy = new NpgsqlCommand("select pg_advisory_xact_lock(hashtextextended('nfc.study:' || @id, 0))", writer, tx))
        {
            lockStudy.Parameters.AddWithValue("id", TestData.StudyExternalId);
            await lockStudy.ExecuteNonQueryAsync();
        }

        var requeue = Task.Run(() => new JobAdmin(source).RequeueAsync([data.FailedJobId], "test", (_, _) => Task.CompletedTask));
        await LockWaiters.WaitForAdvisoryWaiterAsync(source, requeue, "the requeue");
        await using (var write = new NpgsqlCommand($"update jobs set state = 'succeeded' where id = {data.FailedJobId}", writer, tx) { CommandTimeout = 10 })
            await write.ExecuteNonQueryAsync();   // not blocked: the requeue holds no job row yet
        await tx.CommitAsync();

        Assert.Empty((await requeue).Requeued);   // by then the chunk had succeeded
        Assert.Equal("succeeded", await data.JobStateAsync(data.FailedJobId));
    }

    [Fact]
    public async Task When_publishing_fails_the_job_stays_failed_with_its_error()
    {
        await using var data = await TestData.CreateAsync();
        await using var source = NpgsqlDataSource.Create(data.Database.ConnectionString);
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            new JobAdmin(source).RequeueAllFailedAsync(null, null, "test", (_, _) => throw new InvalidOperationException("broker down")));
        Assert.Equal("failed", await data.JobStateAsync(data.FailedJobId));
        Assert.NotNull(await data.Database.ScalarAsync<string>($"select last_error from jobs where id = {data.FailedJobId}"));
        Assert.Empty(await AuditLog.LatestAsync(source, 10));   // rolled back with the requeue: it did not happen
    }

    [Fact]
    public async Task Jobs_without_a_message_are_skipped_and_delete_marks_failed_jobs_deleted()
    {
        await using var data = await TestData.CreateAsync();
        var aggregate = await data.Database.ScalarAsync<long>(
            $"insert into jobs (kind, study_id, state, last_error) values ('aggregate_patient', {data.StudyId}, 'failed', 'x') returning id");
        await using var source = NpgsqlDataSource.Create(data.Database.ConnectionString);
        var admin = new JobAdmin(source);
        var result = await admin.RequeueAsync([aggregate], "test", (_, _) => Task.CompletedTask);
        Assert.Empty(result.Requeued);
        Assert.Equal(aggregate, Assert.Single(result.Skipped).JobId);

        // The failed chunk's image left queued (its fault unrecorded, the database away): nothing would finish it.
        await data.Database.ScalarAsync<int>($"update images set state = 'queued', error_code = null, chunk_job_id = {data.FailedJobId} where id = {data.ImageIds[2]} returning 1");
        var finished = (await new ReportingQueries(source).OverviewAsync()).ImagesFinished;
        var deletion = await admin.DeleteAsync([aggregate, data.FailedJobId], "olga");
        // Failed by the deletion, finished by no worker: not in the overview's images/s.
        Assert.Equal(finished, (await new ReportingQueries(source).OverviewAsync()).ImagesFinished);
        Assert.Equal(2, deletion.Deleted);
        // The image's patient, for the caller to have completed (its image failed now, it would stay processing).
        Assert.Equal([await data.Database.ScalarAsync<long>($"select patient_id from images where id = {data.ImageIds[2]}")], deletion.PatientsToComplete);
        Assert.Equal("deleted", await data.JobStateAsync(data.FailedJobId));
        Assert.Equal("failed JobDeleted", await data.Database.ScalarAsync<string>($"select state || ' ' || error_code from images where id = {data.ImageIds[2]}"));
        var counts = await admin.CountsAsync(null, TestData.StudyExternalId);
        Assert.Equal(0, counts["failed"]);
        Assert.Equal(2, counts["deleted"]);

        // The deletion is in the audit log with who and which jobs; the requeue that requeued nothing is not.
        var audit = Assert.Single(await AuditLog.LatestAsync(source, 10));
        Assert.Equal(("olga", AuditLog.DeleteJobs), (audit.Actor, audit.Action));
        Assert.Equal(new[] { Math.Min(aggregate, data.FailedJobId), Math.Max(aggregate, data.FailedJobId) },
            System.Text.Json.JsonDocument.Parse(audit.Details).RootElement.GetProperty("deleted").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(0, (await admin.DeleteAsync([aggregate], "olga")).Deleted);   // nothing left to delete: nothing recorded
        Assert.Single(await AuditLog.LatestAsync(source, 10));
    }

    [Fact]
    public async Task Scan_now_marks_every_watched_root_and_publishes_ScanShareNow()
    {
        await using var data = await TestData.CreateAsync();
        await using var source = NpgsqlDataSource.Create(data.Database.ConnectionString);
        var published = new List<object>();
        var roots = await new JobAdmin(source).TriggerScanAsync("olga", (m, _) => { published.Add(m); return Task.CompletedTask; });
        Assert.Equal(1, roots);
        Assert.Equal(new ScanShareNow("olga"), Assert.Single(published));
        Assert.True(await data.Database.ScalarAsync<bool>("select scan_requested_at > now() - interval '1 minute' from share_watch"));
    }

    [Fact]
    public async Task An_operator_requeue_from_the_jobs_page_reaches_the_broker()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        var received = new TaskCompletionSource<AnalyzeImages>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = await MessageListener.StartAsync<AnalyzeImages>("dashboard-requeue", ctx =>
        {
            if (ctx.Message.JobId == data.FailedJobId) received.TrySetResult(ctx.Message);
        });
        try
        {
            using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
            var page = await client.GetStringAsync("/jobs?state=failed");
            var token = AntiforgeryField().Match(page).Groups[1].Value;
            // "All failed of kind K" with a kind no job has: refused, not widened to every kind.
            var typo = await client.PostAsync("/jobs/requeue", new FormUrlEncodedContent([new("__af", token), new("scope", "all"), new("kind", "chunk")]));
            Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
            Assert.Contains("Unknown job kind 'chunk'", await typo.Content.ReadAsStringAsync());
            Assert.Equal("failed", await data.JobStateAsync(data.FailedJobId));

            var post = await client.PostAsync("/jobs/requeue", new FormUrlEncodedContent([new("__af", token), new("ids", data.FailedJobId.ToString())]));
            Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
            var message = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal([data.ImageIds[2]], message.ImageIds);
            Assert.Equal("enqueued", await data.JobStateAsync(data.FailedJobId));
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task Deleting_from_the_jobs_page_asks_a_worker_to_complete_the_patients_it_left_unfinished()
    {
        await using var data = await TestData.CreateAsync();
        await data.Database.ScalarAsync<int>($"update images set state = 'queued', error_code = null where id = {data.ImageIds[2]}; select 1");
        var patient = await data.Database.ScalarAsync<long>($"select patient_id from images where id = {data.ImageIds[2]}");
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        var received = new TaskCompletionSource<ReaggregatePatient>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = await MessageListener.StartAsync<ReaggregatePatient>("dashboard-delete", ctx =>
        {
            if (ctx.Message.PatientDbId == patient) received.TrySetResult(ctx.Message);
        });
        try
        {
            using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
            var token = AntiforgeryField().Match(await client.GetStringAsync("/jobs?state=failed")).Groups[1].Value;
            var post = await client.PostAsync("/jobs/delete", new FormUrlEncodedContent([new("__af", token), new("ids", data.FailedJobId.ToString())]));
            Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
            Assert.Contains("Deleted 1 job(s). 1 patient(s) whose images they left unfinished are being completed.",
                await client.GetStringAsync(post.Headers.Location!.ToString()));
            Assert.NotNull(await received.Task.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal("deleted", await data.JobStateAsync(data.FailedJobId));
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task Retry_failed_resubmits_only_a_study_completed_with_errors_with_the_device_its_submission_gave()
    {
        await using var data = await TestData.CreateAsync();
        await data.Database.ScalarAsync<int>("update studies set device = 'VideoCap (from the API)'; select 1");
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        var received = new TaskCompletionSource<SubmitStudy>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = await MessageListener.StartAsync<SubmitStudy>("dashboard-retry", ctx =>
        {
            // By its device too: StudyDeletionTests retries a study of the same id on the same broker at the same time
            // (without one), and with no calibration in either, the two messages differed by nothing else.
            if (ctx.Message.StudyId == TestData.StudyExternalId && ctx.Message.Device is not null) received.TrySetResult(ctx.Message);
        });
        try
        {
            using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
            var token = AntiforgeryField().Match(await client.GetStringAsync("/jobs?state=failed")).Groups[1].Value;
            async Task<string> Retry() => await client.GetStringAsync((await client.PostAsync($"/studies/{data.StudyId}/retry-failed",
                new FormUrlEncodedContent([new("__af", token)]))).Headers.Location!.ToString());

            // Still processing (a stale page's form): answered, not acted on.
            Assert.Contains("is processing: only a study completed with errors has failed images to analyse again", await Retry());
            await data.Database.ScalarAsync<int>("update studies set state = 'completed_with_errors'; select 1");
            Assert.Contains("submitted again: its failed images are analysed again", await Retry());
            var message = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
            // No calibration: the study's, given or study.json's, holds over a submission that gives none (StudyCalibration).
            Assert.Equal(("studyA", (double?)null, "VideoCap (from the API)"), (message.FolderPath, message.MicrometresPerPixel, message.Device));
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task With_the_broker_away_page_actions_say_so_within_seconds_and_change_nothing()
    {
        // They waited on MassTransit's connection for ever, a requeue and a scan request inside their transaction,
        // holding the studies' locks (and share_watch's rows) that workers wait on.
        await using var data = await TestData.CreateAsync();
        await data.Database.ScalarAsync<int>("update studies set state = 'completed_with_errors'; select 1");
        var settings = new Dictionary<string, string?> { ["Messaging:RabbitUri"] = $"amqp://nfc:x@127.0.0.1:{ApiTests.ClosedPort()}/" };
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
        var token = AntiforgeryField().Match(await client.GetStringAsync("/jobs?state=failed")).Groups[1].Value;

        foreach (var (path, fields, notice) in new (string, KeyValuePair<string, string>[], string)[]
        {
            ("/jobs/requeue", [new("ids", data.FailedJobId.ToString())], "Nothing was requeued: RabbitMQ did not confirm a message for 10 s"),
            ("/share/trigger", [], "The scan was not recorded as requested: RabbitMQ did not confirm a message for 10 s"),
            ($"/studies/{data.StudyId}/retry-failed", [], "RabbitMQ did not take the resubmission within 10 s (it may still arrive)"),
        })
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var post = await client.PostAsync(path, new FormUrlEncodedContent([new("__af", token), .. fields]));
            Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"{path} took {clock.Elapsed}");
            Assert.Contains(notice, await client.GetStringAsync(post.Headers.Location!.ToString()));
        }
        Assert.Equal("failed", await data.JobStateAsync(data.FailedJobId));
        Assert.Equal(0L, await data.Database.ScalarAsync<long>("select count(*) from share_watch where scan_requested_at is not null"));
        Assert.Equal(0L, await data.Database.ScalarAsync<long>("select count(*) from audit_log"));

        // A valid token sent as a header with no form: refused as a bad form (it read the missing form into a 500).
        using var headerOnly = new HttpRequestMessage(HttpMethod.Post, "/jobs/delete") { Headers = { { "RequestVerificationToken", token } } };
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(headerOnly)).StatusCode);
    }

    [GeneratedRegex("name=\"__af\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
