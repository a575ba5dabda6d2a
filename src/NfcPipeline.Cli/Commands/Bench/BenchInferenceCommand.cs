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
/// in one run as raw, pipeline, raw, …, raw rounds: each pipeline round is compared with the raw rounds on either
/// side of it, and the median of those ratios is reported with their range, so host noise shows instead of deciding.
/// Batch b is compared with batch 1 the same way: each raw round of b is followed by one of batch 1 on the same session.
/// </summary>
internal static class BenchInferenceCommand
{
    public static Command Create()
    {
        var batches = new Option<string>("--batch") { Description = "Batch sizes to compare", DefaultValueFactory = _ => "1,4,8" };
        var count = new Option<int>("--images") { Description = "Images per measurement", DefaultValueFactory = _ => 24 };
        var rounds = new Option<int>("--rounds") { Description = "Pipeline rounds per batch size, each between two raw rounds (more rounds resist a noisy host)", DefaultValueFactory = _ => 4 };
        var source = new Option<string>("--source") { Description = "Folder of images to cycle through", DefaultValueFactory = _ => "samples/demo-study" };
        var profile = new Option<string?>("--ort-profile") { Description = "Also write ONNX Runtime's per-operator trace to PREFIX-batchN_<time>.json and print where the time goes (profiling slows the runs it times)" };
        var inference = new InferenceArguments();
        var command = new Command("inference", "Compare raw ONNX Runtime throughput with the full inference path.") { batches, count, rounds, source, profile };
        command.Add(inference.Model); command.Add(inference.Device); command.Add(inference.Threads); command.Add(inference.Runs);
        command.SetAction(async (parse, ct) =>
        {
            int[] sizes;
            try { sizes = parse.GetValue(batches)!.Split(',').Select(s => int.Parse(s.Trim(), CultureInfo.InvariantCulture)).Distinct().ToArray(); }
            catch (Exception ex) when (ex is FormatException or OverflowException) { await Console.Error.WriteLineAsync("nfc bench inference: --batch takes sizes like 1,4,8"); return NfcCommandLine.Usage; }
            // Refused, not quietly dropped or raised to 1: a run that measured something else than asked would read as asked.
            if (sizes.Length == 0 || sizes.Any(s => s < 1) || parse.GetValue(count) < 1 || parse.GetValue(rounds) < 1)
            {
                await Console.Error.WriteLineAsync("nfc bench inference: batch sizes, --images and --rounds must be 1 or more");
                return NfcCommandLine.Usage;
            }
            var settings = new Settings(sizes, parse.GetValue(count), parse.GetValue(rounds), parse.GetValue(source)!, parse.GetValue(profile));
            return await RunAsync(settings, inference, parse, ct);
        });
        return command;
    }

    private sealed record Settings(int[] Sizes, int Count, int Rounds, string Source, string? ProfilePrefix);

    private static async Task<int> RunAsync(Settings settings, InferenceArguments inference, ParseResult parse, CancellationToken ct)
    {
        var (sizes, count, rounds, source, profilePrefix) = settings;
        var files = SameSizeImages(source);
        if (files is null) { await Console.Error.WriteLineAsync($"nfc bench inference: no decodable images in '{source}' (pass --source DIR)"); return NfcCommandLine.Usage; }
        if (inference.Options(parse, "nfc bench inference") is not { } options) return NfcCommandLine.Usage;
        // The deployment's class-name map (Analysis__Categories__*): a model with its own class names is timed too.
        if (InferenceArguments.AnalysisFromEnvironment("nfc bench inference") is not { } analysis) return NfcCommandLine.Usage;
        if (sizes.FirstOrDefault(s => s > options.LargestBatch) is > 0 and var tooLarge)
        {
            await Console.Error.WriteLineAsync($"nfc bench inference: --batch sizes must be 1 to {options.LargestBatch} (one batch of the " +
                $"largest input, Inference:MaxInputPixels = {options.MaxInputPixels}, is one float array), got {tooLarge}");
            return NfcCommandLine.Usage;
        }
        var paths = Enumerable.Range(0, count).Select(i => files[i % files.Count]).ToList();
        var calibration = new Calibration(2.0);
        var rows = new List<(int Batch, PairedRounds Rounds, List<double> ToBatch1)>();
        var profiles = new List<(int Batch, string Trace)>();
        if (profilePrefix is not null && ProfileFolderProblem(profilePrefix) is { } problem)
        {
            await Console.Error.WriteLineAsync($"nfc bench inference: --ort-profile {problem}");
            return NfcCommandLine.Usage;
        }
        string provider = "", model = "", plan = "";

        try
        {
            foreach (int batch in sizes)
            {
                options.OrtProfilePrefix = profilePrefix is null ? null : $"{profilePrefix}-batch{batch}";
                var opened = await ModelLoading.TryOpenAsync(() => InferenceArguments.Open(options, batch, analysis), "nfc bench inference");
                if (opened is null) return NfcCommandLine.Fatal;
                var (loaded, fields) = opened.Value;
                using var _ = loaded;
                await using var __ = fields.Analyzer;
                if (!loaded.AcceptsBatches && batch > 1)
                {
                    // A batch-1 export runs one image per call whatever the batch: its row would be batch 1's under another name.
                    await Console.Error.WriteLineAsync($"nfc bench inference: the model takes one image per run; batch {batch} is not measured");
                    continue;
                }
                (provider, model) = (loaded.ActiveProvider, $"{loaded.Contract.ModelName} {loaded.Contract.ModelVersion}");
                plan = $"{loaded.MaxConcurrentRuns} concurrent run(s) × {(loaded.IntraOpThreads > 0 ? loaded.IntraOpThreads.ToString(CultureInfo.InvariantCulture) : "ORT's")} thread(s)";
                using var raw = new RawRunner(loaded, paths[0], batch);                  // warms up allocations and kernels
                using var batch1 = batch == 1 ? null : new RawRunner(loaded, paths[0], 1);
                await RunPipelineAsync(fields, paths.Take(batch).ToList(), calibration, batch, ct);
                var measured = new PairedRounds();
                var toBatch1 = new List<double>();
                double RawRound()
                {
                    double rate = raw.Rate(count);
                    toBatch1.Add(batch1 is null ? 1.0 : rate / batch1.Rate(count));
                    return rate;
                }
                measured.AddRaw(RawRound());
                for (int r = 0; r < rounds; r++)
                {
                    measured.AddPipeline(count / await RunPipelineAsync(fields, paths, calibration, batch, ct));
                    measured.AddRaw(RawRound());
                }
                rows.Add((batch, measured, toBatch1));
                if (profilePrefix is not null) profiles.Add((batch, loaded.Session.EndProfiling()));
            }
        }
        catch (BenchFailedException ex)
        {
            await Console.Error.WriteLineAsync($"nfc bench inference: {ex.Message}");
            return NfcCommandLine.Fatal;
        }

        if (rows.Count == 0)
        {
            await Console.Error.WriteLineAsync("nfc bench inference: nothing was measured; the model takes batch 1 only (--batch 1)");
            return NfcCommandLine.Usage;
        }
        Console.WriteLine($"{model} on {provider}, {plan} (raw and pipeline alike): {count} images × {rounds} pipeline rounds per batch size, " +
            "each between two raw rounds; each raw round followed by one of batch 1");
        var table = new Table().AddColumns("batch", "raw ORT img/s", "pipeline img/s", "pipeline / raw (median)", "per-round range",
            "raw / raw batch 1 (median)", "per-round range");
        foreach (var (batch, measured, toBatch1) in rows)
            table.AddRow(batch.ToString(CultureInfo.InvariantCulture), F(measured.MeanRaw), F(measured.MeanPipeline), F(measured.MedianRatio) + "×",
                $"{F(measured.Ratios.Min())}–{F(measured.Ratios.Max())}", F(PairedRounds.Median(toBatch1)) + "×", $"{F(toBatch1.Min())}–{F(toBatch1.Max())}");
        AnsiConsole.Write(table);
        Console.WriteLine($"peak RSS {BenchEnvironment.PeakRssMb(Environment.ProcessId):0} MB");
        foreach (var (batch, measured, _) in rows) Console.WriteLine($"pipeline_to_raw_ratio_batch_{batch}={F(measured.MedianRatio)}");
        foreach (var (batch, _, toBatch1) in rows.Where(r => r.Batch != 1)) Console.WriteLine($"raw_batch_{batch}_to_batch_1_ratio={F(PairedRounds.Median(toBatch1))}");
        var best = rows.MaxBy(r => r.Rounds.MeanPipeline);
        Console.WriteLine($"ort_images_per_s={F(rows.Max(r => r.Rounds.MeanRaw))}");
        Console.WriteLine($"pipeline_images_per_s={F(best.Rounds.MeanPipeline)}");
        Console.WriteLine($"pipeline_to_raw_ratio={F(best.Rounds.MedianRatio)}");
        Console.WriteLine($"min_pipeline_to_raw_ratio={F(rows.Min(r => r.Rounds.MedianRatio))}");
        foreach (var (batch, trace) in profiles)
        {
            try { OrtProfileReport.Write(batch, trace); }
            catch (Exception ex) when (ex is IOException or InvalidDataException)
            {
                await Console.Error.WriteLineAsync($"nfc bench inference: could not read ONNX Runtime's profile for batch {batch}: {ex.Message}");
                return NfcCommandLine.Fatal;
            }
        }
        return NfcCommandLine.Success;
    }

    /// <summary>Null when the trace files can be written under <paramref name="prefix"/> (its folder is created).</summary>
    private static string? ProfileFolderProblem(string prefix)
    {
        if (string.IsNullOrWhiteSpace(prefix) || prefix.EndsWith('/')) return "needs a path prefix for the trace files, like .local/profiles/int8";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(prefix))!);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"cannot use the folder of '{prefix}': {ex.Message}";
        }
    }

    private static string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>The source's images (those <paramref name="accept"/> takes) of their most common size, so raw and pipeline runs see the same tensor shape.</summary>
    internal static List<string>? SameSizeImages(string source, Func<string, bool>? accept = null)
    {
        if (!Directory.Exists(source)) return null;
        var decoder = new ImageDecoder();
        var sized = new List<(string Path, int Width, int Height)>();
        foreach (var image in StudyLayout.Discover(source).Images)
        {
            if (accept is not null && !accept(image.FullPath)) continue;
            // Decoded whole, not by header: a truncated file would fail the timed runs half way, as a stack trace.
            try { var decoded = decoder.DecodeFile(image.FullPath); sized.Add((image.FullPath, decoded.Width, decoded.Height)); }
            catch (ImageDecodeException) { }
        }
        var group = sized.GroupBy(s => (s.Width, s.Height)).OrderByDescending(g => g.Count()).FirstOrDefault();
        return group?.Select(g => g.Path).ToList();
    }

    private sealed class RawBatch(float[] data, long[] shape) : IDisposable
    {
        public long Batch => shape[0];
        public OrtValue Value { get; } = OrtValue.CreateTensorValueFromMemory(data, shape);
        public void Dispose() => Value.Dispose();
    }

    private static RawBatch RawInput(LoadedModel model, string path, int batch)
    {
        var image = new ImageDecoder().DecodeFile(path);
        using var one = new ImagePreprocessor(model.Contract.SizePolicy, model.Contract.Normalization).Run(image.Pixels, image.Width, image.Height);
        var data = new float[checked(batch * one.Tensor.Length)];
        for (int i = 0; i < batch; i++) one.Tensor.Span.CopyTo(data.AsSpan(i * one.Tensor.Length));
        return new RawBatch(data, [batch, 3, one.Tensor.Height, one.Tensor.Width]);
    }

    /// <summary>Raw ORT on one model: a ready tensor of one image repeated to the batch size, warmed up once per concurrent run.</summary>
    public sealed class RawRunner : IDisposable
    {
        private readonly LoadedModel _model;
        private readonly RawBatch _input;
        private readonly int _batch;

        public RawRunner(LoadedModel model, string path, int batch)
        {
            _model = model;
            _batch = model.AcceptsBatches ? batch : 1;   // a batch-1 export runs one image per call
            _input = RawInput(model, path, _batch);
            RunRaw(model, _input, model.MaxConcurrentRuns);   // every stream once, so none starts cold in a timed round
        }

        /// <summary>Images/s over at least <paramref name="count"/> images, in whole batches.</summary>
        public double Rate(int count)
        {
            int runs = (count + _batch - 1) / _batch;
            return runs * _batch / RunRaw(_model, _input, runs);
        }

        public void Dispose() => _input.Dispose();
    }

    /// <summary>
    /// Runs the session <paramref name="runs"/> times from as many threads as the model runs at once, the pipeline's
    /// concurrency, so that raw and pipeline rates compare like with like. The input is only read.
    /// </summary>
    private static double RunRaw(LoadedModel model, RawBatch input, int runs)
    {
        var names = model.OutputNames.ToArray();
        int started = 0;
        var clock = Stopwatch.StartNew();
        var streams = Enumerable.Range(0, Math.Min(model.MaxConcurrentRuns, runs)).Select(_ => Task.Factory.StartNew(() =>
        {
            while (Interlocked.Increment(ref started) <= runs)
                using (model.Session.Run(null, [model.InputName], [input.Value], names)) { }
        }, TaskCreationOptions.LongRunning)).ToArray();
        try { Task.WaitAll(streams); }
        catch (AggregateException ex)   // out of GPU memory at a large batch, say: one line, not a stack trace
        {
            var first = ex.Flatten().InnerExceptions[0];
            throw new BenchFailedException($"raw ONNX Runtime failed at batch {input.Batch}: {first.Message}", first);
        }
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> RunPipelineAsync(FieldAnalyzer fields, IReadOnlyList<string> paths, Calibration calibration, int batch, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        await foreach (var outcome in fields.AnalyzeInOrderAsync(paths.Select(p => (p, calibration)), InferenceArguments.LookAhead(batch), ct))
            if (!outcome.Succeeded) throw new BenchFailedException($"a benchmark image failed at batch {batch}: {outcome.ErrorCode}: {outcome.Error}");
        return clock.Elapsed.TotalSeconds;
    }
}

/// <summary>A measured run that failed (ONNX Runtime's error, an image the pipeline failed): the bench says why and exits 1.</summary>
public sealed class BenchFailedException(string message, Exception? inner = null) : Exception(message, inner);
