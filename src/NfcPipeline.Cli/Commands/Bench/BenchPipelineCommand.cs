using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Core.Options;
using NfcPipeline.Imaging;
using NfcPipeline.Intake;
using NfcPipeline.Storage;
using Spectre.Console;

namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>
/// `nfc bench pipeline`: end-to-end images/s through a real worker process, RabbitMQ and PostgreSQL, against raw ORT
/// on the same model and images, measured in one run; plus the share of chunk time spent writing to the database and
/// the worker's peak RSS. It uses a throw-away database, vhost and share. The worker first analyses a small warm-up
/// study, as raw ORT gets a warm-up run: a long-running worker pays its start-up costs (JIT, first connections,
/// exchange declarations) once, not per study.
/// </summary>
internal static class BenchPipelineCommand
{
    public static Command Create()
    {
        var count = new Option<int>("--images") { Description = "Images in the benchmark study", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch") { Description = "The worker's largest batch (raw ORT uses the same)", DefaultValueFactory = _ => 4 };
        var source = new Option<string>("--source") { Description = "Folder of images to copy from", DefaultValueFactory = _ => "samples/demo-study" };
        var model = new Option<string?>("--model") { Description = "The .onnx model (default: models/nfc-reference.onnx)" };
        var warmUp = new Option<int>("--warm-up") { Description = "Images in the untimed warm-up study the worker analyses first (0: none)", DefaultValueFactory = _ => 8 };
        var command = new Command("pipeline", "End-to-end throughput through the broker and the database against raw ORT.") { count, batch, source, model, warmUp };
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(count), b = parse.GetValue(batch);
            int w = parse.GetValue(warmUp);
            if (n < 2 || b < 1 || w < 0) { await Console.Error.WriteLineAsync("nfc bench pipeline: need --images ≥ 2, --batch ≥ 1 and --warm-up ≥ 0"); return NfcCommandLine.Usage; }
            var options = new InferenceArguments().Options(parse);
            options.ModelPath = parse.GetValue(model) ?? options.ModelPath;
            return await RunAsync(n, b, w, parse.GetValue(source)!, options, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(int count, int batch, int warmUp, string source, Inference.InferenceOptions options, CancellationToken ct)
    {
        var files = Directory.Exists(source) ? StudyLayout.Discover(source).Images.Select(i => i.FullPath).Where(IsJpeg).ToList() : [];
        if (files.Count == 0) { await Console.Error.WriteLineAsync($"nfc bench pipeline: no JPEG images in '{source}'"); return NfcCommandLine.Usage; }
        string modelPath;
        try { modelPath = Inference.Engine.LoadedModel.ResolveModelPath(options.ModelPath); }
        catch (FileNotFoundException ex) { await Console.Error.WriteLineAsync($"nfc bench pipeline: {ex.Message}"); return NfcCommandLine.Fatal; }

        var share = Directory.CreateTempSubdirectory("nfc-bench-share-");
        await using var env = await BenchEnvironment.CreateAsync(new StorageOptions().ResolveConnectionString(),
            RabbitMqAddress.Resolve(),
            new Uri(Environment.GetEnvironmentVariable("NFC_RABBIT_MGMT_URI") ?? "http://127.0.0.1:35673/"));
        try
        {
            var sources = files.Select(File.ReadAllBytes).ToList();
            WriteStudy(sources, count, share.FullName, "bench");
            if (warmUp > 0) WriteStudy(sources, warmUp, share.FullName, "warm-up");
            var paths = Directory.GetFiles(Path.Combine(share.FullName, "bench", "P001", "L2")).Order().ToList();

            double rawBefore = await RawOrtRateAsync(options, paths, batch, ct);
            var (e2e, writeShare, rss, log) = await EndToEndAsync(env, share.FullName, modelPath, batch, count, warmUp > 0, ct);
            double rawAfter = await RawOrtRateAsync(options, paths, batch, ct);
            if (e2e is null) { await Console.Error.WriteLineAsync("nfc bench pipeline: the study did not complete; worker log:\n" + log); return NfcCommandLine.Fatal; }

            double raw = (rawBefore + rawAfter) / 2;
            string warmed = warmUp > 0 ? $", worker warmed with {warmUp} images" : ", cold worker";
            var table = new Table().Title($"{count} images, batch {batch}{warmed}").AddColumns("measure", "value", "target");
            table.AddRow("raw ORT img/s (before, after)", $"{F(raw)} ({F(rawBefore)}, {F(rawAfter)})", "");
            table.AddRow("end-to-end img/s (broker + database)", F(e2e.Value), "");
            table.AddRow("end-to-end / raw ORT", F(e2e.Value / raw) + "×", "≥ 0.90");
            table.AddRow("share of chunk time writing to the database", (writeShare * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %", "≤ 5 %");
            table.AddRow("worker peak RSS", $"{rss:0} MB", "");
            AnsiConsole.Write(table);
            Console.WriteLine($"pipeline_images_per_s={F(e2e.Value)}");
            Console.WriteLine($"ort_images_per_s={F(raw)}");
            Console.WriteLine($"pipeline_to_raw_ratio={F(e2e.Value / raw)}");
            Console.WriteLine($"db_write_share={writeShare.ToString("0.000", CultureInfo.InvariantCulture)}");
            return NfcCommandLine.Success;
        }
        finally { share.Delete(recursive: true); }
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

    private static async Task<double> RawOrtRateAsync(Inference.InferenceOptions options, IReadOnlyList<string> paths, int batch, CancellationToken ct)
    {
        var opened = await ModelLoading.TryOpenAsync(() => InferenceArguments.Open(options, batch, AnalysisOptions.Default), "nfc bench pipeline")
            ?? throw new InvalidOperationException("the model could not be opened");
        using var model = opened.Model;
        await using var _ = opened.Analyzer.Analyzer;
        return BenchInferenceCommand.RawRate(model, paths[0], batch, paths.Count);
    }

    private static async Task<(double? Rate, double WriteShare, double PeakRssMb, string Log)> EndToEndAsync(
        BenchEnvironment env, string share, string modelPath, int batch, int count, bool warmUp, CancellationToken ct)
    {
        var log = new StringBuilder();
        using var worker = BenchEnvironment.StartWorker(new Dictionary<string, string>
        {
            ["Storage__ConnectionString"] = env.ConnectionString, ["Storage__MigrateOnStartup"] = "false",
            ["Messaging__RabbitUri"] = env.RabbitUri.ToString(), ["Worker__ShareRoot"] = share, ["Worker__HealthUrls"] = "http://127.0.0.1:0",
            ["Worker__HeartbeatInterval"] = "00:00:01", ["Inference__ModelPath"] = modelPath,
            ["Inference__Batching__MaxBatchSize"] = batch.ToString(CultureInfo.InvariantCulture),
        }, log);
        try
        {
            var started = Stopwatch.StartNew();
            while (!log.ToString().Contains("Bus started", StringComparison.Ordinal))
            {
                if (worker.HasExited || started.Elapsed > TimeSpan.FromMinutes(2)) return (null, 0, 0, log.ToString());
                await Task.Delay(100, ct);
            }
            var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(env.RabbitUri));
            await bus.StartAsync(ct);
            // Submits a study and waits for it to complete; null when the worker died or it took too long.
            async Task<TimeSpan?> AnalyseAsync(string study, bool stopBus)
            {
                var clock = Stopwatch.StartNew();
                await bus.Publish(new SubmitStudy { StudyId = study, FolderPath = study }, ct);
                // Stopping this publisher's bus is the benchmark's own cost, not the pipeline's: it runs on the side.
                var stopping = stopBus ? bus.StopAsync(ct) : Task.CompletedTask;
                while (await env.ScalarAsync<string>("select state from studies where external_id = @id", study) is not ("completed" or "completed_with_errors"))
                {
                    if (worker.HasExited || clock.Elapsed > TimeSpan.FromMinutes(30)) return null;
                    await Task.Delay(50, ct);
                }
                var elapsed = clock.Elapsed;
                await stopping;
                return elapsed;
            }
            if (warmUp && await AnalyseAsync("warm-up", stopBus: false) is null) return (null, 0, 0, log.ToString());
            if (await AnalyseAsync("bench", stopBus: true) is not { } took) return (null, 0, 0, log.ToString());
            double rate = count / took.TotalSeconds;
            await Task.Delay(1500, ct);   // one more heartbeat carries the final write share
            var share_ = await env.ScalarAsync<double?>("select (last_batch ->> 'db_write_share')::float8 from workers limit 1") ?? 0;
            return (rate, share_, BenchEnvironment.PeakRssMb(worker.Id), log.ToString());
        }
        finally
        {
            if (!worker.HasExited) { worker.Kill(entireProcessTree: true); await worker.WaitForExitAsync(CancellationToken.None); }
        }
    }
}
