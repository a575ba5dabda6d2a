using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NfcPipeline.Cli.Commands;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Options;
using NfcPipeline.Imaging;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Inference.Preprocessing;
using NfcPipeline.Intake;
using NfcPipeline.OnnxRuntime;
using Spectre.Console;

namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>
/// `nfc bench inference`: for each batch size, raw ORT throughput (session.Run on a ready tensor) against the full
/// path (file decode, preprocessing, dynamic batcher, ORT, output decoding, measurement) on the same model, measured
/// in alternating rounds in one run so that machine noise hits both alike.
/// </summary>
internal static class BenchInferenceCommand
{
    public static Command Create()
    {
        var batches = new Option<string>("--batch") { Description = "Batch sizes to compare", DefaultValueFactory = _ => "1,4,8" };
        var count = new Option<int>("--images") { Description = "Images per measurement", DefaultValueFactory = _ => 32 };
        var rounds = new Option<int>("--rounds") { Description = "Alternating raw/pipeline rounds per batch size (more rounds average out a noisy host)", DefaultValueFactory = _ => 3 };
        var source = new Option<string>("--source") { Description = "Folder of images to cycle through", DefaultValueFactory = _ => "samples/demo-study" };
        var inference = new InferenceArguments();
        var command = new Command("inference", "Compare raw ONNX Runtime throughput with the full inference path.") { batches, count, rounds, source };
        command.Add(inference.Model); command.Add(inference.Device); command.Add(inference.Threads);
        command.SetAction(async (parse, ct) =>
        {
            int[] sizes;
            try { sizes = parse.GetValue(batches)!.Split(',').Select(s => int.Parse(s.Trim(), CultureInfo.InvariantCulture)).Where(s => s > 0).Distinct().ToArray(); }
            catch (FormatException) { await Console.Error.WriteLineAsync("nfc bench inference: --batch takes sizes like 1,4,8"); return NfcCommandLine.Usage; }
            if (sizes.Length == 0 || parse.GetValue(count) < 1) { await Console.Error.WriteLineAsync("nfc bench inference: give at least one batch size and one image"); return NfcCommandLine.Usage; }
            return await RunAsync(sizes, parse.GetValue(count), Math.Max(1, parse.GetValue(rounds)), parse.GetValue(source)!, inference, parse, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(int[] sizes, int count, int rounds, string source, InferenceArguments inference, ParseResult parse, CancellationToken ct)
    {
        var files = SameSizeImages(source);
        if (files is null) { await Console.Error.WriteLineAsync($"nfc bench inference: no decodable images in '{source}' (pass --source DIR)"); return NfcCommandLine.Usage; }
        var options = inference.Options(parse);
        var paths = Enumerable.Range(0, count).Select(i => files[i % files.Count]).ToList();
        var calibration = new Calibration(2.0);
        var rows = new List<(int Batch, double Raw, double Pipeline)>();
        string provider = "", model = "";

        foreach (int batch in sizes)
        {
            var opened = await ModelLoading.TryOpenAsync(() => InferenceArguments.Open(options, batch, AnalysisOptions.Default), "nfc bench inference");
            if (opened is null) return NfcCommandLine.Fatal;
            var (loaded, fields) = opened.Value;
            using var _ = loaded;
            await using var __ = fields.Analyzer;
            (provider, model) = (loaded.ActiveProvider, $"{loaded.Contract.ModelName} {loaded.Contract.ModelVersion}");
            int rawBatch = loaded.AcceptsBatches ? batch : 1;   // a batch-1 export runs one image per call
            using var raw = RawInput(loaded, paths[0], rawBatch);
            int runs = (count + rawBatch - 1) / rawBatch;

            RunRaw(loaded, raw, 1);                                            // warm-up: allocations, kernels
            await RunPipelineAsync(fields, paths.Take(batch).ToList(), calibration, batch, ct);
            double rawSeconds = 0, pipelineSeconds = 0;
            for (int r = 0; r < rounds; r++)
            {
                rawSeconds += RunRaw(loaded, raw, runs);
                pipelineSeconds += await RunPipelineAsync(fields, paths, calibration, batch, ct);
            }
            rows.Add((batch, rounds * runs * rawBatch / rawSeconds, rounds * count / pipelineSeconds));
        }

        var table = new Table().Title($"{model} on {provider}, {count} images × {rounds} rounds").AddColumns("batch", "raw ORT img/s", "pipeline img/s", "pipeline / raw", "raw vs batch 1");
        double rawBatch1 = rows[0].Raw;
        foreach (var (batch, rawRate, pipelineRate) in rows)
            table.AddRow(batch.ToString(), F(rawRate), F(pipelineRate), F(pipelineRate / rawRate) + "×", F(rawRate / rawBatch1) + "×");
        AnsiConsole.Write(table);
        Console.WriteLine($"peak RSS {PeakRssMb():0} MB");
        var best = rows.MaxBy(r => r.Pipeline);
        Console.WriteLine($"ort_images_per_s={F(rows.Max(r => r.Raw))}");
        Console.WriteLine($"pipeline_images_per_s={F(best.Pipeline)}");
        Console.WriteLine($"pipeline_to_raw_ratio={F(best.Pipeline / best.Raw)}");
        return NfcCommandLine.Success;
    }

    private static string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>The source's images of its most common size, so raw and pipeline runs see the same tensor shape.</summary>
    private static List<string>? SameSizeImages(string source)
    {
        if (!Directory.Exists(source)) return null;
        var decoder = new ImageDecoder();
        var sized = new List<(string Path, int Width, int Height)>();
        foreach (var image in StudyLayout.Discover(source).Images)
        {
            try { var info = decoder.ReadHeaderFile(image.FullPath); sized.Add((image.FullPath, info.Width, info.Height)); }
            catch (ImageDecodeException) { }
        }
        var group = sized.GroupBy(s => (s.Width, s.Height)).OrderByDescending(g => g.Count()).FirstOrDefault();
        return group?.Select(g => g.Path).ToList();
    }

    private sealed class RawBatch(float[] data, long[] shape) : IDisposable
    {
        public OrtValue Value { get; } = OrtValue.CreateTensorValueFromMemory(data, shape);
        public void Dispose() => Value.Dispose();
    }

    private static RawBatch RawInput(LoadedModel model, string path, int batch)
    {
        var image = new ImageDecoder().DecodeFile(path);
        using var one = new ImagePreprocessor(model.Contract.SizePolicy, model.Contract.Normalization).Run(image.Pixels, image.Width, image.Height);
        var data = new float[batch * one.Tensor.Length];
        for (int i = 0; i < batch; i++) one.Tensor.Span.CopyTo(data.AsSpan(i * one.Tensor.Length));
        return new RawBatch(data, [batch, 3, one.Tensor.Height, one.Tensor.Width]);
    }

    /// <summary>Raw ORT images/s for <paramref name="count"/> images in batches of <paramref name="batch"/>, after one warm-up run.</summary>
    public static double RawRate(LoadedModel model, string path, int batch, int count)
    {
        batch = model.AcceptsBatches ? batch : 1;   // a batch-1 export runs one image per call
        using var raw = RawInput(model, path, batch);
        RunRaw(model, raw, 1);
        int runs = (count + batch - 1) / batch;
        return runs * batch / RunRaw(model, raw, runs);
    }

    private static double RunRaw(LoadedModel model, RawBatch input, int runs)
    {
        var names = model.OutputNames.ToArray();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < runs; i++)
            using (model.Session.Run(null, [model.InputName], [input.Value], names)) { }
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> RunPipelineAsync(FieldAnalyzer fields, IReadOnlyList<string> paths, Calibration calibration, int batch, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        await foreach (var outcome in fields.AnalyzeInOrderAsync(paths.Select(p => (p, calibration)), InferenceArguments.LookAhead(batch), ct))
            if (!outcome.Succeeded) throw new InvalidOperationException($"benchmark image failed: {outcome.ErrorCode}: {outcome.Error}");
        return clock.Elapsed.TotalSeconds;
    }

    private static double PeakRssMb()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
}
