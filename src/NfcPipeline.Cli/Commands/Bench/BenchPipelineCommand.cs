using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Imaging;
using NfcPipeline.Intake;
using NfcPipeline.Storage;
using Spectre.Console;

namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>
/// `nfc bench pipeline`: end-to-end images/s through a real worker process, RabbitMQ and PostgreSQL, against raw ORT
/// on the same model and images, measured in one run as raw, study, raw, study, …, raw rounds (each study's rate over
/// the mean of the raw rounds beside it; the median over the rounds); plus the share of chunk time spent writing to
/// the database and the worker's peak RSS. It uses a throw-away database, vhost and share. The worker first analyses
/// a small warm-up study, as raw ORT gets a warm-up run: a long-running worker pays its start-up costs (JIT, first
/// connections, exchange declarations) once, not per study.
/// </summary>
internal static class BenchPipelineCommand
{
    public static Command Create()
    {
        var count = new Option<int>("--images") { Description = "Images in each benchmark study", DefaultValueFactory = _ => 32 };
        var rounds = new Option<int>("--rounds") { Description = "Benchmark studies, each between two raw ORT rounds", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch") { Description = "The worker's largest batch (raw ORT uses the same)", DefaultValueFactory = _ => 4 };
        var source = new Option<string>("--source") { Description = "Folder of images to copy from", DefaultValueFactory = _ => "samples/demo-study" };
        var model = new Option<string?>("--model") { Description = "The .onnx model (default: models/nfc-reference.onnx)" };
        var warmUp = new Option<int>("--warm-up") { Description = "Images in the untimed warm-up study the worker analyses first (0: none)", DefaultValueFactory = _ => 8 };
        var inference = new InferenceArguments();
        var command = new Command("pipeline", "End-to-end throughput through the broker and the database against raw ORT.") { count, rounds, batch, source, model, warmUp };
        // The worker gets these too, explicitly: raw ORT and the worker run under the same device, threads and runs.
        command.Add(inference.Device); command.Add(inference.Threads); command.Add(inference.Runs);
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(count), b = parse.GetValue(batch);
            int w = parse.GetValue(warmUp), r = parse.GetValue(rounds);
            if (n < 2 || b < 1 || w < 0 || r < 1)
            {
                await Console.Error.WriteLineAsync("nfc bench pipeline: need --images ≥ 2, --rounds ≥ 1, --batch ≥ 1 and --warm-up ≥ 0");
                return NfcCommandLine.Usage;
            }
            if (inference.Options(parse, "nfc bench pipeline") is not { } options) return NfcCommandLine.Usage;
            // As bench inference: raw ORT's batch is one float array (--batch 5000 overflowed after the setup).
            if (b > options.LargestBatch)
            {
                await Console.Error.WriteLineAsync($"nfc bench pipeline: --batch must be 1 to {options.LargestBatch} (one batch of the largest " +
                    $"input, Inference:MaxInputPixels = {options.MaxInputPixels}, is one float array), got {b}");
                return NfcCommandLine.Usage;
            }
            options.ModelPath = parse.GetValue(model) ?? options.ModelPath;
            return await RunAsync(n, r, b, w, parse.GetValue(source)!, options, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(int count, int rounds, int batch, int warmUp, string source, Inference.InferenceOptions options, CancellationToken ct)
    {
        // One size, as raw ORT times one of them: studies of other sizes would compare another workload.
        var files = BenchInferenceCommand.SameSizeImages(source, IsJpeg);
        if (files is null) { await Console.Error.WriteLineAsync($"nfc bench pipeline: no decodable JPEG images in '{source}'"); return NfcCommandLine.Usage; }
        string modelPath;
        try { modelPath = Inference.Engine.LoadedModel.ResolveModelPath(options.ModelPath); }
        catch (FileNotFoundException ex) { await Console.Error.WriteLineAsync($"nfc bench pipeline: {ex.Message}"); return NfcCommandLine.Fatal; }

        // Every address before anything is made: a malformed one is a usage error, with no share folder left behind.
        var rabbit = CliBus.Address();
        var connection = CommonOptions.ResolveConnection(null);
        // http(s) only: HttpClient takes an amqp:// address (NFC_RABBIT_URI's, an easy mix-up) and fails on its first request.
        if (!Uri.TryCreate(Environment.GetEnvironmentVariable("NFC_RABBIT_MGMT_URI") ?? "http://127.0.0.1:35673/", UriKind.Absolute, out var management)
            || management.Scheme is not ("http" or "https"))
        {
            await Console.Error.WriteLineAsync("nfc bench pipeline: NFC_RABBIT_MGMT_URI is not an http(s) address such as http://127.0.0.1:15672/");
            return NfcCommandLine.Usage;
        }
        var share = Directory.CreateTempSubdirectory("nfc-bench-share-");
        BenchEnvironment env;
        var name = BenchEnvironment.NewName();
        try
        {
            env = await BenchEnvironment.CreateAsync(name, connection, rabbit, management);
        }
        catch (Exception ex) when (ex is HttpRequestException or Npgsql.NpgsqlException or System.Net.Sockets.SocketException
            or TaskCanceledException { InnerException: TimeoutException })
        {
            share.Delete(recursive: true);
            await Console.Error.WriteLineAsync($"nfc bench pipeline: cannot set up the bench database and broker vhost " +
                $"(ops/services.sh up; NFC_RABBIT_MGMT_URI for the management API): {ex.Message}. Removed what it had made of: " +
                $"database {name}, share {share.FullName}.");
            return NfcCommandLine.Fatal;
        }
        catch
        {
            share.Delete(recursive: true);   // any other failure of the set-up (a migration refused, say) leaves no share
            throw;
        }
        await using var benchEnvironment = env;
        try
        {
            var sources = files.Select(File.ReadAllBytes).ToList();
            var studies = Enumerable.Range(1, rounds).Select(r => $"bench-{r}").ToList();
            foreach (var study in studies) WriteStudy(sources, count, share.FullName, study);
            if (warmUp > 0) WriteStudy(sources, warmUp, share.FullName, "warm-up");
            var rawImage = Directory.GetFiles(Path.Combine(share.FullName, studies[0], "P001", "L2")).Order().First();

            // Raw ORT needs the session only: no analyzer, no batcher.
            var opened = await ModelLoading.TryOpenAsync(() => ValueTuple.Create(Inference.Engine.LoadedModel.Load(options)), "nfc bench pipeline");
            if (opened is null) return NfcCommandLine.Fatal;
            using var rawModel = opened.Value.Item1;
            using var raw = new BenchInferenceCommand.RawRunner(rawModel, rawImage, batch);
            var measured = new PairedRounds();
            var timelines = new List<string>();
            var (ok, writeShare, rss, log) = await EndToEndAsync(env, share.FullName, modelPath, options, batch, rawModel.MaxConcurrentRuns, studies, warmUp > 0,
                () => measured.AddRaw(raw.Rate(count)),
                async (study, took) =>
                {
                    measured.AddPipeline(count / took.TotalSeconds);
                    timelines.Add(await StudyTimelineAsync(env, study, took));
                }, ct);
            if (!ok) { await Console.Error.WriteLineAsync("nfc bench pipeline: a study did not complete; worker log:\n" + log); return NfcCommandLine.Fatal; }

            string warmed = warmUp > 0 ? $", worker warmed with {warmUp} images" : ", cold worker";
            var table = new Table().Title($"{count} images × {rounds} studies, batch {batch}{warmed}").AddColumns("measure", "value", "target");
            table.AddRow("raw ORT img/s (mean of the raw rounds)", F(measured.MeanRaw), "");
            table.AddRow("end-to-end img/s (broker + database)", F(measured.MeanPipeline), "");
            table.AddRow("end-to-end / raw ORT (median; per-study range)", $"{F(measured.MedianRatio)}× ({F(measured.Ratios.Min())}–{F(measured.Ratios.Max())})", "≥ 0.90");
            table.AddRow("share of chunk time writing to the database", (writeShare * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %", "≤ 5 %");
            table.AddRow("worker peak RSS", $"{rss:0} MB", "");
            AnsiConsole.Write(table);
            foreach (var line in timelines) Console.WriteLine(line);
            Console.WriteLine($"pipeline_images_per_s={F(measured.MeanPipeline)}");
            Console.WriteLine($"ort_images_per_s={F(measured.MeanRaw)}");
            Console.WriteLine($"pipeline_to_raw_ratio={F(measured.MedianRatio)}");
            Console.WriteLine($"db_write_share={writeShare.ToString("0.000", CultureInfo.InvariantCulture)}");
            return NfcCommandLine.Success;
        }
        catch (BenchFailedException ex)
        {
            await Console.Error.WriteLineAsync($"nfc bench pipeline: {ex.Message}");
            return NfcCommandLine.Fatal;
        }
        // The database or the broker gone mid-run (a restart, say): one line, as at set-up, not a stack trace.
        catch (Exception ex) when (ex is HttpRequestException or Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"nfc bench pipeline: a service failed during the run: {ex.Message}");
            return NfcCommandLine.Fatal;
        }
        finally { share.Delete(recursive: true); }
    }

    /// <summary>Where one study's time went, from the database's timestamps (registration, chunks, completion).</summary>
    private static async Task<string> StudyTimelineAsync(BenchEnvironment env, string study, TimeSpan total)
    {
        const string Sql = """
            select concat_ws(' ',
              extract(epoch from min(j.started_at) - s.created_at), extract(epoch from max(j.finished_at) - min(j.started_at)),
              extract(epoch from s.completed_at - max(j.finished_at)), extract(epoch from s.completed_at - s.created_at))
            from studies s join jobs j on j.study_id = s.id and j.kind = 'analyze_chunk'
            where s.external_id = @id group by s.id
            """;
        var parts = (await env.ScalarAsync<string>(Sql, study))?.Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        if (parts is not { Length: 4 }) return $"{study}: {F(total.TotalSeconds)} s";
        double beforeRegistration = total.TotalSeconds - parts[3];
        return $"{study}: {F(total.TotalSeconds)} s = publish→registered {F(beforeRegistration)} + registered→first chunk {F(parts[0])}"
            + $" + chunks {F(parts[1])} + last chunk→study completed {F(parts[2])}";
    }

    private static string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>Sniffs the first bytes only; the benchmark's source folder may hold large files.</summary>
    private static bool IsJpeg(string path)
    {
        Span<byte> head = stackalloc byte[16];
        using var stream = File.OpenRead(path);
        return ImageDecoder.Sniff(head[..stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)]) == ImageFormat.Jpeg;
    }

    /// <summary>
    /// A one-patient study of <paramref name="count"/> copies with distinct content (a JPEG comment after SOI, naming
    /// the study), so no image is deduplicated by its hash, not even against the other study.
    /// </summary>
    private static void WriteStudy(IReadOnlyList<byte[]> sources, int count, string share, string study)
    {
        string folder = Path.Combine(share, study, "P001", "L2");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(share, study, "study.json"), """{"um_per_px": 2.0}""");
        for (int i = 0; i < count; i++)
        {
            var bytes = sources[i % sources.Count];
            var comment = Encoding.ASCII.GetBytes($"nfc-bench {study} {i}");
            var segment = new byte[] { 0xFF, 0xFE, (byte)((comment.Length + 2) >> 8), (byte)(comment.Length + 2) }.Concat(comment);
            File.WriteAllBytes(Path.Combine(folder, $"field{i + 1:D4}.jpg"), bytes.Take(2).Concat(segment).Concat(bytes.Skip(2)).ToArray());
        }
    }

    /// <summary>
    /// Starts a worker, analyses the warm-up study, then each study between two calls of <paramref name="rawRound"/>,
    /// passing each study and its time from publish to completion to <paramref name="studyDone"/>.
    /// </summary>
    private static async Task<(bool Completed, double WriteShare, double PeakRssMb, string Log)> EndToEndAsync(BenchEnvironment env,
        string share, string modelPath, Inference.InferenceOptions options, int batch, int concurrentRuns, IReadOnlyList<string> studies, bool warmUp, Action rawRound,
        Func<string, TimeSpan, Task> studyDone, CancellationToken ct)
    {
        var log = new StringBuilder();
        var settings = new Dictionary<string, string>
        {
            ["Storage__ConnectionString"] = env.ConnectionString, ["Storage__MigrateOnStartup"] = "false",
            ["Messaging__RabbitUri"] = env.RabbitUri.ToString(), ["Worker__ShareRoot"] = share, ["Worker__HealthUrls"] = "http://127.0.0.1:0",
            ["Worker__HeartbeatInterval"] = "00:00:01", ["Inference__ModelPath"] = modelPath,
            ["Inference__Batching__MaxBatchSize"] = batch.ToString(CultureInfo.InvariantCulture),
            ["Inference__Device"] = options.Device,
            ["Inference__IntraOpThreads"] = options.IntraOpThreads.ToString(CultureInfo.InvariantCulture),
            ["Inference__MaxConcurrentRuns"] = options.MaxConcurrentRuns.ToString(CultureInfo.InvariantCulture),
            // As many batches in flight as raw ORT has streams (as resolved: --concurrent-runs 0 chooses), and one
            // filling (InferenceArguments.Batching): the worker's own 3 understated the pipeline at --concurrent-runs 4.
            ["Inference__Batching__MaxConcurrentBatches"] = InferenceArguments.Batching(batch, concurrentRuns).MaxConcurrentBatches.ToString(CultureInfo.InvariantCulture),
        };
        if (options.OnnxRuntimePath is { Length: > 0 } ort) settings["Inference__OnnxRuntimePath"] = ort;
        using var worker = BenchEnvironment.StartWorker(settings, log);
        // The worker's output is appended under this lock as it comes: read under it too (a read meanwhile can throw).
        string Log() { lock (log) return log.ToString(); }
        IBusControl? bus = null;
        bool busStopped = false;
        try
        {
            var started = Stopwatch.StartNew();
            while (!Log().Contains("Bus started", StringComparison.Ordinal))
            {
                if (worker.HasExited || started.Elapsed > TimeSpan.FromMinutes(2)) return (false, 0, 0, Log());
                await Task.Delay(100, ct);
            }
            var publisher = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(env.RabbitUri));
            bus = publisher;
            await publisher.StartAsync(ct);
            // Submits a study and waits for it to complete; null when the worker died or it took too long.
            async Task<TimeSpan?> AnalyseAsync(string study, bool stopBus)
            {
                var clock = Stopwatch.StartNew();
                await publisher.Publish(new SubmitStudy { StudyId = study, FolderPath = study }, ct);
                // Stopping this publisher's bus is the benchmark's own cost, not the pipeline's: it runs on the side.
                busStopped |= stopBus;
                var stopping = stopBus ? publisher.StopAsync(ct) : Task.CompletedTask;
                while (await env.ScalarAsync<string>("select state from studies where external_id = @id", study) is not ("completed" or "completed_with_errors"))
                {
                    if (worker.HasExited || clock.Elapsed > TimeSpan.FromMinutes(30)) return null;
                    await Task.Delay(50, ct);
                }
                var elapsed = clock.Elapsed;
                await stopping;
                return elapsed;
            }
            if (warmUp && await AnalyseAsync("warm-up", stopBus: false) is null) return (false, 0, 0, Log());
            rawRound();
            for (int i = 0; i < studies.Count; i++)
            {
                if (await AnalyseAsync(studies[i], stopBus: i == studies.Count - 1) is not { } took) return (false, 0, 0, Log());
                await studyDone(studies[i], took);
                rawRound();
            }
            await Task.Delay(1500, ct);   // one more heartbeat carries the final write share
            var writeShare = await env.ScalarAsync<double?>("select (last_batch ->> 'db_write_share')::float8 from workers limit 1") ?? 0;
            return (true, writeShare, BenchEnvironment.PeakRssMb(worker.Id), Log());
        }
        finally
        {
            // A study that failed or timed out left the publisher's bus running: stopped, bounded (the broker may be why).
            if (bus is not null && !busStopped)
            {
                using var stopLimit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try { await bus.StopAsync(stopLimit.Token); } catch (OperationCanceledException) { }
            }
            if (!worker.HasExited) { worker.Kill(entireProcessTree: true); await worker.WaitForExitAsync(CancellationToken.None); }
        }
    }
}
