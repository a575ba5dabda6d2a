using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>`nfc bench inference` and `bench pipeline` as processes: their usage errors, clean-up and printed ratios.</summary>
public sealed class BenchCliTests : IDisposable
{
    private static readonly string DemoStudy = Path.Combine(TestServices.RepoRoot, "samples", "demo-study");
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("nfc-bench-cli-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public async Task Bench_commands_give_usage_errors_and_clean_up_after_a_failed_set_up_without_a_stack_trace()
    {
        var overflow = await NfcProcess.RunAsync("bench", "inference", "--batch", "1,99999999999", "--source", DemoStudy);
        Assert.Equal(2, overflow.Code);
        Assert.Contains("--batch takes sizes like", overflow.Err);
        // Refused rather than dropped (a 0 batch) or raised to 1 (0 rounds): the run would not measure what was asked.
        foreach (var args in new[] { new[] { "--batch", "0,4" }, ["--rounds", "0"] })
        {
            var refused = await NfcProcess.RunAsync(["bench", "inference", .. args, "--source", DemoStudy]);
            Assert.Equal((2, "nfc bench inference: batch sizes, --images and --rounds must be 1 or more"), (refused.Code, refused.Err.Trim()));
        }
        // A --source whose study.json cannot be read is the user's to fix: named by its verb, no stack trace.
        var badManifest = Path.Combine(_folder.FullName, "bad-manifest");
        Directory.CreateDirectory(Path.Combine(badManifest, "P1", "L2"));
        File.Copy(Path.Combine(DemoStudy, "P001", "L2", "field1.jpg"), Path.Combine(badManifest, "P1", "L2", "field1.jpg"));
        File.WriteAllText(Path.Combine(badManifest, "study.json"), "{ not json");
        foreach (var verb in new[] { "inference", "pipeline" })
        {
            var unreadable = await NfcProcess.RunAsync("bench", verb, "--source", badManifest);
            Assert.Equal(2, unreadable.Code);
            Assert.StartsWith($"nfc bench {verb}: ", unreadable.Err);
            Assert.Contains("study.json", unreadable.Err);
            Assert.DoesNotContain("   at ", unreadable.Err);
        }

        foreach (var args in new[] { new[] { "--studies", "2" }, ["--rounds", "0"], ["--failed-jobs", "0"] })
        {
            var refused = await NfcProcess.RunAsync(["bench", "dashboard", .. args]);   // 2 studies: a crash on a missing row before
            Assert.Equal(2, refused.Code);
            Assert.Contains("--studies must be 10 or more", refused.Err);
        }

        var malformed = await NfcProcess.RunWithEnvironmentAsync(new() { ["NFC_PG_CONNECTION"] = "Host=x;Port" },
            "bench", "pipeline", "--images", "2", "--rounds", "1", "--warm-up", "0", "--source", DemoStudy);
        Assert.Equal(2, malformed.Code);   // was "unexpected error (please report it)" and a stack trace
        Assert.Contains("the connection string is malformed", malformed.Err);
        Assert.DoesNotContain("   at ", malformed.Err);

        // Refused before anything is set up: a batch raw ORT's one float array cannot hold (an OverflowException after the
        // bench database was made), and a management address that is none (a UriFormatException and a share left behind).
        var hugeBatch = await NfcProcess.RunAsync("bench", "pipeline", "--batch", "5000", "--source", DemoStudy);
        Assert.Equal(2, hugeBatch.Code);
        Assert.Contains("nfc bench pipeline: --batch must be 1 to ", hugeBatch.Err);
        // The broker's own amqp:// address there (NFC_RABBIT_URI's) failed after the database was made, left it and the
        // share behind, and printed a stack trace.
        foreach (var address in new[] { "not a uri", "amqp://127.0.0.1:35672/" })
        {
            var badManagement = await NfcProcess.RunWithEnvironmentAsync(new() { ["NFC_RABBIT_MGMT_URI"] = address },
                "bench", "pipeline", "--images", "2", "--rounds", "1", "--warm-up", "0", "--source", DemoStudy);
            Assert.Equal((2, "nfc bench pipeline: NFC_RABBIT_MGMT_URI is not an http(s) address such as http://127.0.0.1:15672/"),
                (badManagement.Code, badManagement.Err.Trim()));
        }

        // 19,999 images in 10,000 studies seeded 10,000 (one each) while it said 19,999.
        var uneven = await NfcProcess.RunAsync("bench", "dashboard", "--studies", "10000", "--images", "19999");
        Assert.Equal(2, uneven.Code);
        Assert.Contains("--images must be a multiple of --studies", uneven.Err);

        var noDatabase = await NfcProcess.RunAsync("bench", "dashboard", "--connection", "Host=127.0.0.1;Port=1;Username=x;Timeout=3");
        Assert.Equal(1, noDatabase.Code);
        Assert.Contains("database error", noDatabase.Err);
        Assert.DoesNotContain("   at ", noDatabase.Err);
        // It made no database: no second error about dropping one.
        Assert.DoesNotContain("could not drop", noDatabase.Err);

        // The management API unreachable, or reached but silent (a timeout, reported as "cancelled" before, and it left
        // the database): the bench database it had created is dropped, and its share deleted.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new System.Collections.Concurrent.ConcurrentBag<System.Net.Sockets.Socket>();
        _ = Task.Run(async () => { try { while (true) accepted.Add(await silent.AcceptSocketAsync()); } catch (Exception) { } });
        foreach (var management in new[] { "http://127.0.0.1:1/", $"http://127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port}/" })
        {
            var noManagement = await NfcProcess.RunWithEnvironmentAsync(new() { ["NFC_RABBIT_MGMT_URI"] = management },
                "bench", "pipeline", "--images", "2", "--rounds", "1", "--warm-up", "0", "--source", DemoStudy,
                "--model", Path.Combine(TestServices.RepoRoot, "models", "nfc-reference.onnx"));
            Assert.True(noManagement.Code == 1, management + ": " + noManagement.Err);
            Assert.DoesNotContain("   at ", noManagement.Err);
            Assert.DoesNotContain("cancelled", noManagement.Err);
            var made = System.Text.RegularExpressions.Regex.Match(noManagement.Err, "database (nfc_bench_[0-9a-f]+), share (/[^ ]+)\\.");
            Assert.True(made.Success, noManagement.Err);
            Assert.False(Directory.Exists(made.Groups[2].Value));
            await using var admin = new Npgsql.NpgsqlConnection(TestServices.PostgresAdmin);
            await admin.OpenAsync();
            await using var count = new Npgsql.NpgsqlCommand("select count(*) from pg_database where datname = @name", admin);
            count.Parameters.AddWithValue("name", made.Groups[1].Value);
            Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
        }
        silent.Stop();
        foreach (var socket in accepted) socket.Dispose();
    }

    [Fact]
    public async Task Bench_inference_prints_each_batch_sizes_median_ratio_between_raw_rounds()
    {
        var run = await NfcProcess.RunAsync(TimeSpan.FromMinutes(4), "bench", "inference", "--images", "2", "--batch", "1,2", "--rounds", "2",
            "--source", DemoStudy, "--model", Path.Combine(TestServices.RepoRoot, "models", "nfc-reference.onnx"), "--concurrent-runs", "2", "--threads", "1");

        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("2 concurrent run(s) × 1 thread(s) (raw and pipeline alike): 2 images × 2 pipeline rounds per batch size, each between two raw rounds; each raw round followed by one of batch 1", run.Out);
        foreach (var key in new[] { "pipeline_to_raw_ratio_batch_1", "pipeline_to_raw_ratio_batch_2", "pipeline_to_raw_ratio", "min_pipeline_to_raw_ratio" })
            Assert.InRange(NfcProcess.Value(run.Out, key), 0.01, 10);
        Assert.Equal(Math.Min(NfcProcess.Value(run.Out, "pipeline_to_raw_ratio_batch_1"), NfcProcess.Value(run.Out, "pipeline_to_raw_ratio_batch_2")),
            NfcProcess.Value(run.Out, "min_pipeline_to_raw_ratio"));
        Assert.True(NfcProcess.Value(run.Out, "ort_images_per_s") > 0);
        // Batch 2 against batch 1 in rounds side by side on one session (it was two means taken minutes apart, against
        // whichever size came first).
        Assert.InRange(NfcProcess.Value(run.Out, "raw_batch_2_to_batch_1_ratio"), 0.01, 10);
        Assert.DoesNotContain("raw_batch_1_to_batch_1_ratio", run.Out);
        Assert.Contains("peak RSS", run.Out);
        Assert.Equal(2, (await NfcProcess.RunAsync("bench", "inference", "--batch", "x")).Code);
        // A batch over one float array of the largest input: refused, not an overflow's stack trace or gigabytes allocated.
        var huge = await NfcProcess.RunAsync("bench", "inference", "--batch", "1,1000", "--source", DemoStudy);
        Assert.Equal(2, huge.Code);
        Assert.Contains("--batch sizes must be 1 to 42", huge.Err);
        var negative = await NfcProcess.RunAsync("bench", "inference", "--concurrent-runs", "-1");
        Assert.Equal(2, negative.Code);
        Assert.Contains("--concurrent-runs must be 0 (choose) to 256.", negative.Err + negative.Out);
    }

    /// <summary>`nfc bench inference` of one round over the sample study with a fixture model.</summary>
    private static Task<(int Code, string Out, string Err)> BenchFixtureAsync(TimeSpan limit, string model, string images, string batch) =>
        NfcProcess.RunAsync(limit, "bench", "inference", "--images", images, "--batch", batch, "--rounds", "1", "--source", DemoStudy,
            "--model", Path.Combine(TestServices.RepoRoot, "tests", "fixtures", "onnx", model));

    [Fact]
    public async Task Bench_inference_does_not_print_a_batch_a_batch_one_model_cannot_run()
    {
        // A model whose input takes one image runs every batch as batch 1: its "batch 2" row and ratio were batch 1's.
        const string Model = "instances_tiny.onnx";
        var run = await BenchFixtureAsync(TimeSpan.FromMinutes(4), Model, images: "1", batch: "1,2");
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("nfc bench inference: the model takes one image per run; batch 2 is not measured", run.Err);
        Assert.InRange(NfcProcess.Value(run.Out, "pipeline_to_raw_ratio_batch_1"), 0.01, 10);
        Assert.DoesNotContain("batch_2", run.Out);

        var none = await BenchFixtureAsync(TimeSpan.FromMinutes(2), Model, images: "1", batch: "4");
        Assert.Equal(2, none.Code);
        Assert.Contains("nothing was measured; the model takes batch 1 only (--batch 1)", none.Err);
    }

    [Fact]
    public async Task Bench_inference_says_in_one_line_which_batch_onnx_runtime_failed_at()
    {
        // A batch ONNX Runtime cannot run (out of GPU memory, here a model that squeezes the batch axis) was an
        // AggregateException's stack trace under "unexpected error".
        var run = await BenchFixtureAsync(TimeSpan.FromMinutes(2), "dense_batch_one_only.onnx", images: "2", batch: "2");
        Assert.True(run.Code == 1, run.Err + run.Out);
        Assert.Contains("nfc bench inference: raw ONNX Runtime failed at batch 2: ", run.Err);
        Assert.DoesNotContain("   at ", run.Err);
        Assert.DoesNotContain("unexpected error", run.Err);
    }

    [Fact]
    public async Task Bench_dashboard_times_every_page_on_a_small_seeded_database_and_drops_it()
    {
        // The overlay answered 409 (the seeded hashes are no file's), and at this size the middle study's one image was a
        // failed one: the bench stopped on a stack trace. Its dashboard's log lines went to standard output, in the table.
        var run = await NfcProcess.RunAsync(TimeSpan.FromMinutes(2), "bench", "dashboard", "--studies", "10", "--images", "10",
            "--capillaries", "10", "--failed-jobs", "1", "--rounds", "1");
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Matches(@"overlay png \(480 px\)\s*│ 200 ", run.Out);
        // Every page answered; whether each was within 300 ms is the bench's verdict, not this test's (one round, on a
        // machine running the rest of the suite).
        Assert.Equal(18, System.Text.RegularExpressions.Regex.Matches(run.Out, @"^│ [^│]+│ 200\s+│", System.Text.RegularExpressions.RegexOptions.Multiline).Count);
        Assert.Matches(@"All 18 pages within 300 ms \(server median\)\.|Over 300 ms: ", run.Out);
        Assert.DoesNotContain("info:", run.Out);
        Assert.Equal("", run.Err.Trim());
        var name = System.Text.RegularExpressions.Regex.Match(run.Out, "Database (nfc_bench_[0-9a-f]{8})").Groups[1].Value;
        Assert.NotEqual("", name);
        await using var admin = new Npgsql.NpgsqlConnection(TestServices.PostgresAdmin);
        await admin.OpenAsync();
        await using var exists = new Npgsql.NpgsqlCommand("select count(*) from pg_database where datname = @name", admin);
        exists.Parameters.AddWithValue("name", name);
        Assert.Equal(0L, (long)(await exists.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Bench_inference_with_an_ort_profile_prints_where_the_int8_models_time_goes()
    {
        var prefix = Path.Combine(_folder.FullName, "profiles", "int8");
        // A source whose first field is cut short (its header says the size of the others): left out, not a stack
        // trace half way through the timed runs.
        var source = Path.Combine(_folder.FullName, "source", "P1", "L2");
        Directory.CreateDirectory(source);
        var field = File.ReadAllBytes(Path.Combine(DemoStudy, "P001", "L2", "field1.jpg"));
        File.WriteAllBytes(Path.Combine(source, "field0.jpg"), field[..(field.Length / 2)]);
        File.WriteAllBytes(Path.Combine(source, "field1.jpg"), field);
        var run = await NfcProcess.RunAsync(TimeSpan.FromMinutes(4), "bench", "inference", "--images", "1", "--batch", "1", "--rounds", "1",
            "--source", Path.Combine(_folder.FullName, "source"), "--model", Path.Combine(TestServices.RepoRoot, "models", "nfc-reference.int8.onnx"),
            "--ort-profile", prefix);

        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("ORT profile, batch 1:", run.Out);
        var trace = run.Out.Split('\n').Single(l => l.StartsWith("ort_profile_batch_1=", StringComparison.Ordinal))["ort_profile_batch_1=".Length..].Trim();
        Assert.StartsWith(prefix + "-batch1_", trace);
        Assert.True(File.Exists(trace), trace);
        // quantize.py's QDQ pairs reached ORT's int8 fusions: the convolutions run as QLinearConv.
        Assert.Matches(@"QLinearConv\W+\d+", run.Out);

        foreach (var bad in new[] { "", "/proc/no-such-folder/int8" })
        {
            var refused = await NfcProcess.RunAsync("bench", "inference", "--images", "1", "--batch", "1", "--source", DemoStudy, "--ort-profile", bad);
            Assert.Equal(2, refused.Code);
            Assert.Contains("--ort-profile", refused.Err);
            Assert.DoesNotContain("   at ", refused.Err);
        }
    }
}
