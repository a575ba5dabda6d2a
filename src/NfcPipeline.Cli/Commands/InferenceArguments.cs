using System.CommandLine;
using Microsoft.Extensions.Configuration;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;
using NfcPipeline.Inference;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Engine;

namespace NfcPipeline.Cli.Commands;

/// <summary>The options every verb that runs the model shares, and how they become an analyzer.</summary>
internal sealed class InferenceArguments
{
    public Option<string?> Model { get; } = new("--model") { Description = $"The .onnx model (default: {InferenceOptions.DefaultModelPath})" };
    public Option<string> Device { get; } = KnownDevice(new("--device") { Description = "auto (the GPU where an NVIDIA GPU is present and the CUDA provider libraries lie beside ONNX Runtime, else the CPU), cpu, cuda or cuda:N (CUDA falls back to the CPU with a warning)", DefaultValueFactory = _ => "auto" });
    public Option<int> Batch { get; } = new("--batch") { Description = "Largest batch the dynamic batcher forms", DefaultValueFactory = _ => 4 };
    public Option<int> Threads { get; } = NonNegative(new("--threads") { Description = "the session's ONNX Runtime intra-op thread pool, shared by its concurrent runs (0: on the CPU, cores − runs + 1)", DefaultValueFactory = _ => 0 });
    public Option<int> Runs { get; } = NonNegative(new("--concurrent-runs") { Description = "Session runs executing at once (0: on the CPU 2, or 1 on one core; on a GPU 2)", DefaultValueFactory = _ => 0 });

    /// <summary>As the worker reads Inference:Device (any cuda:N), on every verb that takes it, bench verbs too.</summary>
    private static Option<string> KnownDevice(Option<string> option)
    {
        option.Validators.Add(result =>
        {
            var device = result.GetValueOrDefault<string>() ?? "";
            if (NfcPipeline.OnnxRuntime.ExecutionProviders.IsAuto(device)) return;
            try { NfcPipeline.OnnxRuntime.ExecutionProviders.ParseDevice(device); }
            catch (ArgumentException) { result.AddError($"--device takes auto, cpu, cuda or cuda:N, got '{device}'."); }
        });
        return option;
    }

    private static Option<int> NonNegative(Option<int> option)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > InferenceOptions.MaxRunsOrThreads)
                result.AddError($"{option.Name} must be 0 (choose) to {InferenceOptions.MaxRunsOrThreads}.");
        });
        return option;
    }

    public void AddTo(Command command)
    {
        command.Add(Model); command.Add(Device); command.Add(Batch); command.Add(Threads); command.Add(Runs);
    }

    /// <summary>
    /// The options from the command line and the decoder keys in the environment; null, with each problem on standard
    /// error named as the worker names it, for settings the worker would refuse (the caller exits with usage, 2).
    /// </summary>
    public InferenceOptions? Options(ParseResult parse, string verb)
    {
        var options = new InferenceOptions
        {
            ModelPath = parse.GetValue(Model) ?? InferenceOptions.DefaultModelPath,
            Device = parse.GetValue(Device) ?? NfcPipeline.OnnxRuntime.ExecutionProviders.Auto,
            IntraOpThreads = parse.GetValue(Threads),
            MaxConcurrentRuns = parse.GetValue(Runs),
        };
        var problems = new List<string>();
        try { BindDecoders(options, new ConfigurationBuilder().AddEnvironmentVariables().Build(), problems); }
        catch (InvalidOperationException ex) { problems.Add(ex.Message); }   // a value that is no number
        problems.AddRange(options.Validate());
        // One batch of the largest input is one float array.
        long largest = Math.Max(1, options.LargestBatch);
        if (parse.CommandResult.Command.Options.Contains(Batch) && parse.GetValue(Batch) is var batch && (batch < 1 || batch > largest))
            problems.Add($"--batch must be 1 to {largest} (one batch of the largest input, Inference:MaxInputPixels = {options.MaxInputPixels}, " +
                $"is one float array), got {batch}");
        if (problems.Count == 0) return options;
        foreach (var problem in problems) Console.Error.WriteLine($"{verb}: {problem}");
        return null;
    }

    /// <summary>
    /// The measurement and aggregation policy from the worker's keys in the environment (Analysis__Grading__MinConfidentInstances=0,
    /// Analysis__Categories__loop=Normal, ...), so the CLI measures, grades and classifies patterns as the deployed worker
    /// does; null, with each problem on standard error, for settings the worker would refuse.
    /// </summary>
    public static AnalysisOptions? AnalysisFromEnvironment(string verb)
    {
        var problems = new List<string>();
        var options = NfcPipeline.Worker.Hosting.AnalysisConfiguration.Read(new ConfigurationBuilder().AddEnvironmentVariables().Build(), problems);
        if (problems.Count == 0) return options;
        foreach (var problem in problems) Console.Error.WriteLine($"{verb}: {problem}");
        return null;
    }

    /// <summary>
    /// Decoder thresholds come from the same keys as the worker's appsettings, e.g. the environment variable
    /// Inference__Decoder__CenterThreshold=0.2, so the CLI and the worker decode alike.
    /// </summary>
    private static void BindDecoders(InferenceOptions options, IConfiguration config, List<string> problems)
    {
        var section = config.GetSection(InferenceOptions.Section);
        // A misspelt key is refused, as the worker refuses it, rather than decoding at the default without a word.
        foreach (var (name, target) in new (string, object)[] { (nameof(InferenceOptions.Decoder), options.Decoder), (nameof(InferenceOptions.InstancesDecoder), options.InstancesDecoder) })
        {
            problems.AddRange(NfcPipeline.Worker.Hosting.UnknownSettings.Of(section.GetSection(name), target.GetType()));
            section.GetSection(name).Bind(target);
        }
    }

    /// <summary>Images in flight: two batches' worth plus a couple decoding ahead.</summary>
    public static int LookAhead(int maxBatch) => Math.Max(2, 2 * maxBatch + 2);

    /// <summary>
    /// One batch more in flight than the model runs at once (<see cref="LoadedModel.MaxConcurrentRuns"/>), so one
    /// batch prepares its input or decodes its outputs while the others run.
    /// </summary>
    public static DynamicBatcherOptions Batching(int maxBatch, int concurrentRuns) => new()
    {
        MaxBatchSize = Math.Max(1, maxBatch),
        MaxQueueDelay = TimeSpan.FromMilliseconds(20),
        QueueCapacity = Math.Max(8, 4 * maxBatch),
        MaxConcurrentBatches = concurrentRuns + 1,
    };

    /// <summary>Loads the model and checks that the measurement options know all its class names.</summary>
    public static (LoadedModel Model, FieldAnalyzer Analyzer) Open(InferenceOptions options, int maxBatch, AnalysisOptions analysis)
    {
        var model = LoadedModel.Load(options);
        // The worker logs this; here it goes to stderr, so that JSON output and evaluate say it too.
        if (model.Session.ProviderFallbackReason is { } reason)
            Console.Error.WriteLine($"warning: the CUDA execution provider could not be used; running on {model.ActiveProvider}. ONNX Runtime said: {reason}");
        try
        {
            analysis.ValidateFor(model.Contract.ClassNames);
            var analyzer = new ImageAnalyzer(model, options, Batching(maxBatch, model.MaxConcurrentRuns));
            return (model, new FieldAnalyzer(analyzer, new ImageMeasurer(analysis)));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
