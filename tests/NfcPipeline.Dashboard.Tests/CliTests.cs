using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>`nfc status`, `report`, `requeue`, `enqueue` and `bench pipeline` as processes, against the real services.</summary>
public class CliTests
{
    private static Task<(int Code, string Out, string Err)> NfcAsync(params string[] args) => NfcProcess.RunAsync(args);

    [Fact]
    public async Task A_termination_signal_stops_a_waiting_enqueue_with_exit_code_130()
    {
        // No worker: --wait waits for a registration that does not come, until interrupted (Ctrl-C or SIGTERM).
        await using var data = await TestData.CreateAsync();
        var run = await NfcProcess.RunAndTerminateAsync("Submitted study", TimeSpan.FromSeconds(2), "enqueue", TestData.FreeFolder, "--share", data.ShareRoot,
            "--study-id", "CLI-INT", "--wait", "--connection", data.Database.ConnectionString);
        Assert.True(run.Code == 130, $"exit {run.Code}: {run.Err}");
        Assert.Contains("nfc: cancelled.", run.Err);
        Assert.DoesNotContain("   at ", run.Err);
        Assert.True(run.Stopping < TimeSpan.FromSeconds(15), $"took {run.Stopping} to stop");
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]   // the folder as a shell completes it: the refusal is noted under the folder's own name
    public async Task A_waiting_enqueue_whose_submission_a_worker_refused_says_why_at_once(string trailing)
    {
        // It waited out --register-timeout (5 min) and then said only that no worker registered the study.
        await using var data = await TestData.CreateAsync();
        var run = NfcProcess.RunAsync("enqueue", TestData.FreeFolder + trailing, "--share", data.ShareRoot, "--study-id", "CLI-REFUSED", "--wait",
            "--connection", data.Database.ConnectionString);
        // A worker refusing it notes why, as here, every second until the CLI ends (however long it takes to publish);
        // a refusal of the same folder under another id (a share watcher's, with study.json's) is not this submission's.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!run.IsCompleted && clock.Elapsed < TimeSpan.FromMinutes(1))
        {
            await data.Database.ScalarAsync<int>("insert into share_folder_notes (root, folder, state, reason, study_id) values " +
                "('/share-a', 'studyN', 'registration_refused', 'Study id ''studyN'' is refused for another reason.', 'studyN'), " +
                "('/share-b', 'studyN', 'registration_refused', 'Study id ''CLI-REFUSED'' is registered from another folder.', " +
                "'CLI-REFUSED') on conflict (root, folder) do update set last_seen = now() returning 1");
            await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(1)));
        }
        var result = await run;
        Assert.Equal(1, result.Code);
        Assert.Contains("nfc enqueue: the worker refused to register the study: Study id 'CLI-REFUSED' is registered from another folder.", result.Err);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Status_lists_studies_and_a_studys_patients()
    {
        await using var data = await TestData.CreateAsync();
        var all = await NfcAsync("status", "--connection", data.Database.ConnectionString);
        Assert.Equal(0, all.Code);
        Assert.Contains("STUDY-A", all.Out);
        var one = await NfcAsync("status", "STUDY-A", "--connection", data.Database.ConnectionString);
        Assert.Equal(0, one.Code);
        Assert.Contains("P01", one.Out);
        Assert.Contains(TestData.ScriptPatient, one.Out);
        Assert.Contains("non-scleroderma", one.Out);
        Assert.Equal(1, (await NfcAsync("status", "NOPE", "--connection", data.Database.ConnectionString)).Code);
        // A list cut at --limit says so (on standard error: the table stays the table alone).
        Assert.DoesNotContain("most recent", all.Err);
        await data.Database.ScalarAsync<int>("insert into studies (external_id, state, image_count) values ('STUDY-Z', 'completed', 0); select 1");
        var cut = await NfcAsync("status", "--limit", "1", "--connection", data.Database.ConnectionString);
        Assert.Equal((0, "nfc status: only the 1 most recent study is shown; --limit shows more."), (cut.Code, cut.Err.Trim()));
        Assert.Contains("STUDY-Z", cut.Out);

        // A database that answers but was never migrated is said so, not "cannot reach the database".
        await using var bare = await TestDatabase.CreateAsync();
        var unmigrated = await NfcAsync("status", "--connection", bare.ConnectionString);
        Assert.Equal(1, unmigrated.Code);
        Assert.StartsWith("nfc status: the database's schema is missing or older than this nfc", unmigrated.Err);
        Assert.Contains("run 'nfc migrate'", unmigrated.Err);
        var login = new Npgsql.NpgsqlConnectionStringBuilder(bare.ConnectionString) { Password = "wrong" }.ConnectionString;
        Assert.StartsWith("nfc status: the database refused the login", (await NfcAsync("status", "--connection", login)).Err);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // file modes and the deployment are Linux's
    public async Task Report_exports_csv_and_printable_html_by_study_and_patient_code()
    {
        await using var data = await TestData.CreateAsync();
        var dir = Directory.CreateTempSubdirectory("nfc-report-").FullName;
        try
        {
            var (csv, html) = (Path.Combine(dir, "p.csv"), Path.Combine(dir, "p.html"));
            var run = await NfcAsync("report", "STUDY-A/P01", "--csv", csv, "--html", html, "--connection", data.Database.ConnectionString);
            Assert.True(run.Code == 0, run.Err);
            Assert.Contains(",summary,pattern,non-scleroderma", await File.ReadAllTextAsync(csv));
            var page = await File.ReadAllTextAsync(html);
            Assert.Contains("<svg id=\"chart-morphology\"", page);
            Assert.Contains("density 7.5 ≥ 7", page);
            Assert.DoesNotContain("<script", page);
            Assert.Contains("<p class=\"notice\" id=\"research-use\">Research use only.", page);   // says what it is not
            // Failed fields and the calibration beside the field counts, where readers look (only in provenance before).
            Assert.Contains("<tr><th>Fields</th><td>2 gradable, 0 ungradable, 1 without a result (failed)</td></tr>", page);
            Assert.Contains("<tr><th>Calibration</th><td>2 µm/px</td></tr>", page);
            Assert.DoesNotContain("review-pending", page);
            Assert.DoesNotContain("at review", run.Err);

            // A field excluded after the figures were computed: the exports say they do not count it yet.
            await data.Database.ScalarAsync<object>($"update images set qc_exclusion = 'blur', qc_excluded_by = 'test', qc_excluded_at = now(), qc_changed_at = clock_timestamp() + interval '1 s' where id = {data.ImageIds[0]}");
            var pending = await NfcAsync("report", "STUDY-A/P01", "--csv", csv, "--html", html, "--connection", data.Database.ConnectionString);
            Assert.True(pending.Code == 0, pending.Err);
            Assert.Contains("nfc report: A field was excluded or included at review", pending.Err);
            Assert.Contains("id=\"review-pending\"", await File.ReadAllTextAsync(html));
            await data.Database.ScalarAsync<object>($"update images set qc_exclusion = null, qc_excluded_by = null, qc_excluded_at = null, qc_changed_at = null where id = {data.ImageIds[0]}");

            var screen = await NfcAsync("report", data.PatientId.ToString(), "--connection", data.Database.ConnectionString);
            Assert.Contains("non-scleroderma", screen.Out);
            Assert.Matches(@"gradable / ungradable / failed fields\W+2 / 0 / 1", screen.Out);
            Assert.Contains("Research use only.", screen.Out);
            Assert.Equal(1, (await NfcAsync("report", "STUDY-A/NOPE", "--connection", data.Database.ConnectionString)).Code);
            // An id only as written for one: "0<id>" (a patient code that looks like a number) exported patient <id>.
            var padded = await NfcAsync("report", "0" + data.PatientId, "--csv", csv, "--connection", data.Database.ConnectionString);
            Assert.Equal(1, padded.Code);
            Assert.Contains("is no id as written (an id has no leading zeros)", padded.Err);
            var empty = await NfcAsync("report", data.ScriptPatientId.ToString(), "--csv", csv, "--connection", data.Database.ConnectionString);
            Assert.True(empty.Code == 0, empty.Err);
            Assert.Contains("this patient has no results yet (completed_with_errors); the CSV holds its header only.", empty.Err);
            Assert.Single((await File.ReadAllTextAsync(csv)).Split('\n', StringSplitOptions.RemoveEmptyEntries));
            // A file that cannot be written is the file system's answer (exit 1), not a usage error (2).
            var unwritable = await NfcAsync("report", data.PatientId.ToString(), "--csv", Path.Combine(dir, "no-such-folder", "p.csv"), "--connection", data.Database.ConnectionString);
            Assert.Equal(1, unwritable.Code);
            Assert.Contains("nfc report: cannot write the report", unwritable.Err);
            Assert.Contains(Path.Combine(dir, "no-such-folder", "p.csv") + " cannot be written: folder", unwritable.Err);   // not the hidden temporary file

            // '-' is standard output (a file named '-' before), and so is /dev/stdout (its notes went around the CSV in a
            // pipe, and a file behind `>>` was replaced); one output for both is refused.
            foreach (var stdout in new[] { "-", "/dev/stdout" })
            {
                var piped = await NfcAsync("report", data.PatientId.ToString(), "--csv", stdout, "--html", html, "--connection", data.Database.ConnectionString);
                Assert.True(piped.Code == 0, piped.Err);
                Assert.Contains(",summary,pattern,non-scleroderma", piped.Out);
                Assert.DoesNotContain("Wrote", piped.Out);
                Assert.DoesNotContain("Study STUDY-A", piped.Out);
                Assert.Contains("Wrote " + html, piped.Err);
                Assert.Contains("Study STUDY-A · patient P01 (#" + data.PatientId + ")", piped.Err);   // which patient was written
            }
            // Standard error named as a file is written as standard output is (a log behind `2>>` was renamed over).
            var toStderr = await NfcAsync("report", data.PatientId.ToString(), "--csv", "/dev/stderr", "--connection", data.Database.ConnectionString);
            Assert.True(toStderr.Code == 0, toStderr.Err);
            Assert.Contains(",summary,pattern,non-scleroderma", toStderr.Err);
            foreach (var (first, second) in new[] { (csv, csv), ("-", "-") })
            {
                var same = await NfcAsync("report", data.PatientId.ToString(), "--csv", first, "--html", second, "--connection", data.Database.ConnectionString);
                Assert.Equal((2, "nfc report: --csv and --html name the same output; give each its own."), (same.Code, same.Err.Trim()));
            }
            // A file its owner made read-only is kept.
            File.SetUnixFileMode(csv, UnixFileMode.UserRead);
            var kept = await NfcAsync("report", data.PatientId.ToString(), "--csv", csv, "--connection", data.Database.ConnectionString);
            Assert.Equal(1, kept.Code);
            Assert.Contains($"{csv} is read-only", kept.Err);
            Assert.Single((await File.ReadAllTextAsync(csv)).Split('\n', StringSplitOptions.RemoveEmptyEntries));
            // Written beside the target and moved over it whole: a failed move (here onto a folder) leaves no part file.
            Directory.CreateDirectory(Path.Combine(dir, "taken.html"));
            var blocked = await NfcAsync("report", data.PatientId.ToString(), "--html", Path.Combine(dir, "taken.html"), "--connection", data.Database.ConnectionString);
            Assert.Equal(1, blocked.Code);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Requeue_puts_a_failed_job_back_and_enqueue_publishes_a_study_under_the_share()
    {
        await using var data = await TestData.CreateAsync();
        var submitted = new TaskCompletionSource<SubmitStudy>(TaskCreationOptions.RunContinuationsAsynchronously);
        var byManifest = new TaskCompletionSource<SubmitStudy>(TaskCreationOptions.RunContinuationsAsynchronously);
        var viaLink = new TaskCompletionSource<SubmitStudy>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(TestServices.RabbitUri);
            cfg.ReceiveEndpoint("nfc-test-cli-" + Guid.NewGuid().ToString("N")[..8], e =>
            {
                e.AutoDelete = true;
                e.Handler<SubmitStudy>(ctx =>
                {
                    if (ctx.Message.StudyId == "CLI-1") submitted.TrySetResult(ctx.Message);
                    if (ctx.Message.FolderPath == "studyM" && ctx.Message.StudyId == "CLI-M") byManifest.TrySetResult(ctx.Message);
                    if (ctx.Message.StudyId == "CLI-L") viaLink.TrySetResult(ctx.Message);
                    return Task.CompletedTask;
                });
            });
        });
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        try
        {
            var requeue = await NfcAsync("requeue", data.FailedJobId.ToString(), "--connection", data.Database.ConnectionString);
            Assert.Equal(0, requeue.Code);
            Assert.Contains("Requeued 1 job(s).", requeue.Out);
            Assert.Equal("enqueued", await data.JobStateAsync(data.FailedJobId));
            // A job that does not go back to work fails the command: a failed aggregation job is not requeued by id.
            var aggregation = await data.Database.ScalarAsync<long>(
                $"insert into jobs (kind, study_id, payload, state) values ('aggregate_patient', {data.StudyId}, '{{}}', 'failed') returning id");
            var skipped = await NfcAsync("requeue", aggregation.ToString(), "--connection", data.Database.ConnectionString);
            Assert.Equal(1, skipped.Code);
            Assert.Contains($"nfc requeue: job {aggregation} was not requeued: ", skipped.Err);
            Assert.Equal(2, (await NfcAsync("requeue", "--connection", data.Database.ConnectionString)).Code);
            // A filter that names nothing is refused, not "Requeued 0 job(s)".
            var typo = await NfcAsync("requeue", "--failed", "--study", "STUDY-TYPO", "--connection", data.Database.ConnectionString);
            Assert.Equal((1, "nfc requeue: there is no study 'STUDY-TYPO' (nfc status lists them)."), (typo.Code, typo.Err.Trim()));
            var kind = await NfcAsync("requeue", "--failed", "--kind", "analyse_chunk", "--connection", data.Database.ConnectionString);
            Assert.Equal(2, kind.Code);
            Assert.Contains("unknown job kind 'analyse_chunk'", kind.Err);

            var enqueue = await NfcAsync("enqueue", "studyA", "--share", data.ShareRoot, "--study-id", "CLI-1", "--um-per-px", "2.2", "--reanalyze");
            Assert.Equal(0, enqueue.Code);
            // Both differ from what a share watcher would submit the folder with: said, since it would undo them.
            Assert.Contains("--study-id 'CLI-1' differs from the id a share watcher gives this folder ('studyA')", enqueue.Err);
            Assert.Contains("--um-per-px 2.2 overrides study.json (no calibration) for this submission only", enqueue.Err);
            var message = await submitted.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("studyA", message.FolderPath);
            Assert.Equal(2.2, message.MicrometresPerPixel);
            Assert.True(message.Reanalyze);
            // Without --study-id, the manifest's study_id names the study, as the share watcher does.
            Directory.CreateDirectory(Path.Combine(data.ShareRoot, "studyM"));
            File.WriteAllText(Path.Combine(data.ShareRoot, "studyM", "study.json"), """{"study_id": "CLI-M"}""");
            // A folder without images, or a file, is refused as the worker would refuse it (it never registers, so
            // --wait would wait for ever).
            var empty = await NfcAsync("enqueue", "studyM", "--share", data.ShareRoot);
            Assert.Equal(2, empty.Code);
            Assert.Contains("holds no images", empty.Err);
            Directory.CreateDirectory(Path.Combine(data.ShareRoot, "studyM", "P01", "L2"));
            File.WriteAllBytes(Path.Combine(data.ShareRoot, "studyM", "P01", "L2", "f1.png"), [0x89, 0x50, 0x4E, 0x47]);
            var file = await NfcAsync("enqueue", "studyM/P01/L2/f1.png", "--share", data.ShareRoot, "--study-id", "CLI-F");
            Assert.Equal(2, file.Code);
            Assert.Contains("is a file, not a study folder", file.Err);
            Assert.Equal(0, (await NfcAsync("enqueue", "studyM", "--share", data.ShareRoot)).Code);
            Assert.Equal("CLI-M", (await byManifest.Task.WaitAsync(TimeSpan.FromSeconds(30))).StudyId);

            var outside = await NfcAsync("enqueue", "/etc", "--share", data.ShareRoot);
            Assert.Equal(2, outside.Code);
            Assert.Contains("inside the share", outside.Err);
            // A share root given through a link, the folder by its real path (as `nfc enqueue .` in it gives it): inside.
            var rootLink = data.ShareRoot.TrimEnd('/') + "-link";
            Directory.CreateSymbolicLink(rootLink, data.ShareRoot);
            try
            {
                var linked = await NfcAsync("enqueue", Path.Combine(data.ShareRoot, "studyM"), "--share", rootLink, "--study-id", "CLI-L");
                Assert.True(linked.Code == 0, linked.Err);
                Assert.Equal("studyM", (await viaLink.Task.WaitAsync(TimeSpan.FromSeconds(30))).FolderPath);
            }
            finally { File.Delete(rootLink); }

            // What the worker would refuse is refused here, before publishing, instead of looking accepted.
            var taken = await NfcAsync("enqueue", "studyM", "--share", data.ShareRoot, "--study-id", TestData.StudyExternalId,
                "--connection", data.Database.ConnectionString, "--wait");
            Assert.Equal(2, taken.Code);
            Assert.Contains($"Study id '{TestData.StudyExternalId}' is already registered from folder 'studyA'", taken.Err);
            var renamed = await NfcAsync("enqueue", "studyA", "--share", data.ShareRoot, "--study-id", "CLI-RENAMED",
                "--connection", data.Database.ConnectionString);
            Assert.Equal(2, renamed.Code);
            Assert.Contains($"Folder 'studyA' is already registered as study '{TestData.StudyExternalId}'", renamed.Err);
            await data.AddStudyAsync("Z\u00fcrich-01", "zurich");
            var lookalike = await NfcAsync("enqueue", "studyM", "--share", data.ShareRoot, "--study-id", "Zu\u0308rich-01",
                "--connection", data.Database.ConnectionString);
            Assert.Equal(2, lookalike.Code);
            Assert.Contains("differs from the registered study 'Z\u00fcrich-01' only in its Unicode form", lookalike.Err);
            var badId = await NfcAsync("enqueue", "studyM", "--share", data.ShareRoot, "--study-id", "site/2026");
            Assert.Equal(2, badId.Code);
            Assert.Contains("must be a single name", badId.Err);

            // With no worker to register it, --wait gave no answer at all: now it gives up after --register-timeout.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var unregistered = await NfcAsync("enqueue", "studyM", "--share", data.ShareRoot, "--study-id", "CLI-W",
                "--connection", data.Database.ConnectionString, "--wait", "--register-timeout", "00:00:03");
            Assert.Equal(1, unregistered.Code);
            Assert.Contains("nfc enqueue: no worker registered the study within 00:00:03", unregistered.Err);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task Enqueue_wait_takes_only_a_registration_after_its_own_submission_as_its_result()
    {
        // The study is processing when it is submitted again; that earlier run finishing before a worker takes the new
        // submission in was reported as this submission's completion.
        await using var data = await TestData.CreateAsync();
        // An id of its own: StudyDeletionTests' retry of STUDY-A publishes a message of the same shape on the same broker.
        const string StudyId = "STUDY-WAIT";
        await data.Database.ScalarAsync<int>($"update studies set external_id = '{StudyId}' where id = {data.StudyId} returning 1");
        var published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(TestServices.RabbitUri);
            cfg.ReceiveEndpoint("nfc-test-wait-" + Guid.NewGuid().ToString("N")[..8], e =>
            {
                e.AutoDelete = true;
                e.Handler<SubmitStudy>(ctx =>
                {
                    if (ctx.Message.StudyId == StudyId) published.TrySetResult();
                    return Task.CompletedTask;
                });
            });
        });
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        try
        {
            var waiting = NfcProcess.RunAsync(TimeSpan.FromMinutes(2), "enqueue", "studyA", "--share", data.ShareRoot,
                "--study-id", StudyId, "--connection", data.Database.ConnectionString, "--wait");
            await published.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await data.Database.ScalarAsync<int>($"update studies set state = 'completed', completed_at = now() where id = {data.StudyId} returning 1");
            await Task.Delay(TimeSpan.FromSeconds(4));
            Assert.False(waiting.IsCompleted, "the earlier run's completion was taken as this submission's");

            // The worker registers the submission, and the study completes.
            await data.Database.ScalarAsync<int>(
                $"update studies set registered_at = now(), state = 'completed', completed_at = now() where id = {data.StudyId} returning 1");
            var run = await waiting.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(run.Code == 0, run.Err + run.Out);
            Assert.Contains($"Study {StudyId}: completed.", run.Out);
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task Bench_pipeline_runs_a_real_worker_after_a_warm_up_study_and_prints_its_ratios()
    {
        // A worker start, a warm-up study, two studies and three raw ORT rounds, while other test assemblies share the two cores.
        var run = await NfcProcess.RunAsync(TimeSpan.FromMinutes(6), "bench", "pipeline", "--images", "4", "--rounds", "2", "--warm-up", "2",
            "--source", Path.Combine(TestServices.RepoRoot, "samples", "demo-study"),
            "--model", Path.Combine(TestServices.RepoRoot, "models", "nfc-reference.onnx"));
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("4 images × 2 studies, batch 4, worker warmed with 2 images", run.Out);
        // Each study's time, split by the database's timestamps.
        Assert.Contains("bench-1: ", run.Out);
        Assert.Contains("bench-2: ", run.Out);
        Assert.Contains("+ registered→first chunk ", run.Out);
        double Value(string key) => NfcProcess.Value(run.Out, key);
        Assert.InRange(Value("pipeline_to_raw_ratio"), 0.01, 10);
        Assert.InRange(Value("db_write_share"), 0, 1);
        Assert.True(Value("pipeline_images_per_s") > 0);
    }
}
