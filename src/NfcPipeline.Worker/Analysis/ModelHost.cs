using System.Text.Json;
using Microsoft.Extensions.Options;
using NfcPipeline.Contracts;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;
using NfcPipeline.Inference;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Imaging;
using NfcPipeline.Intake;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Analysis;

/// <summary>
/// The one model of this worker: loaded at start-up (before the bus starts consuming), registered in models by its
/// hash, and shared by all consumers through one dynamic batcher, so images of different messages share batches.
/// </summary>
public sealed class ModelHost(IOptions<InferenceOptions> inference, IOptions<DynamicBatcherOptions> batching, ModelStore models,
    WorkerStore workers, WorkerIdentity identity, DatabaseRetry retry, WorkerOptions worker, AnalysisOptions analysis, ILoggerFactory loggers,
    ILogger<ModelHost> logger)
    : IHostedService, IAsyncDisposable
{
    private const int WarmUpWidth = 1024, WarmUpHeight = 768;   // a typical capillaroscope field
    private LoadedModel? _model;

    public bool IsLoaded => _model is not null && Fields is not null;
    public FieldAnalyzer Fields { get; private set; } = null!;

    /// <summary>
    /// The share's real path, what files read for analysis must lie in; resolved at each use, as registration does, so
    /// a root link re-pointed (or a mount away at start-up) does not put every file outside the share until a restart.
    /// </summary>
    public string? RealShareRoot => worker.ShareRoot is { Length: > 0 } share ? SharePaths.RealPath(share) : null;
    public LoadedModel Model => _model ?? throw new InvalidOperationException("The model is not loaded yet.");
    public long ModelId { get; private set; }
    /// <summary>The measurement and aggregation policy (the "Analysis" section; defaults where unset).</summary>
    public AnalysisOptions Analysis { get; } = analysis;
    public string SettingsJson { get; private set; } = "{}";

    /// <summary>
    /// Loads the model and checks the analysis settings against its classes; Program calls it before the host starts,
    /// so a model that cannot be used stops the worker with the reason instead of a host failure's stack trace.
    /// </summary>
    public void Load()
    {
        if (_model is not null) return;
        var model = LoadedModel.Load(inference.Value, loggers);
        try { Analysis.ValidateFor(model.Contract.ClassNames); }
        catch { model.Dispose(); throw; }
        _model = model;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Load();
        var model = _model!;
        // Paths are checked inside the share before they are opened; the decoder checks the open file too, so a link
        // swapped in between the two leads nowhere outside.
        var decoder = worker.ShareRoot is not { Length: > 0 } ? null : new ImageDecoder(null, path => SharePaths.OpenInside(path, RealShareRoot!));
        var analyzer = new ImageAnalyzer(model, inference.Value, batching.Value, decoder, loggers);
        // Before consuming: the first run of a full batch takes far longer than the next (see WarmUpAsync).
        logger.LogInformation("Warming up at {Width}x{Height} with a full batch of {Batch} before taking work", WarmUpWidth, WarmUpHeight,
            analyzer.Batching.MaxBatchSize);
        var warmUp = await analyzer.WarmUpAsync(WarmUpWidth, WarmUpHeight, cancellationToken);
        if (warmUp.Skipped is { } skipped)
            logger.LogWarning("No warm-up: {Reason}. Images whose model input is above Inference:MaxInputPixels fail as TooLarge; " +
                "raise it, or use a model with a smaller input size", skipped);
        else if (warmUp.FullBatchError is { } error)
            logger.LogWarning("Warm-up at {Width}x{Height}: a full batch of {Batch} failed ({Error}); batches that fail run their images one by one, " +
                "so lower DynamicBatcher:MaxBatchSize if this model or device cannot run it", WarmUpWidth, WarmUpHeight, analyzer.Batching.MaxBatchSize, error);
        else
            logger.LogInformation("Warmed up at {Width}x{Height}: first full batch of {Batch} in {Milliseconds:0} ms",
                WarmUpWidth, WarmUpHeight, analyzer.Batching.MaxBatchSize, warmUp.FullBatchSeconds * 1000);
        Fields = new FieldAnalyzer(analyzer, new ImageMeasurer(Analysis));
        SettingsJson = Settings(Analysis, inference.Value, model.Contract.Kind, model.Sha256Hex);
        var metadata = JsonSerializer.Serialize(model.Session.ModelMetadata.CustomMetadataMap);
        ModelId = await retry.RunAsync(ct => models.EnsureAsync(model.Sha256, model.Contract.ModelName, model.Contract.ModelVersion,
            model.Contract.ContractName, metadata, ct), cancellationToken);
        await retry.RunAsync(RegisterAsync, cancellationToken);
        // One queue, one model (README, Scale): a chunk goes to whichever worker takes it, and a patient is aggregated
        // from one model's results, so a second model on the queue leaves patients with fields missing.
        if (await retry.RunAsync(ct => workers.LiveWorkersWithOtherModelsAsync(identity.Id, model.Sha256, ct), cancellationToken) is var others and > 0)
            logger.LogWarning("{Count} live worker(s) on this database run another model than this one (sha256 {Sha}); all workers on one queue " +
                "must load the same model, or patients are aggregated from part of their fields. Let the queue drain and run one model.",
                others, model.Sha256Hex[..12]);
        logger.LogInformation("Model {Name} {Version} (sha256 {Sha}) loaded on {Provider} ({Runs} concurrent run(s) sharing an intra-op pool of {Threads} thread(s), 0: ORT's choice); worker {Worker}",
            model.Contract.ModelName, model.Contract.ModelVersion, model.Sha256Hex[..12], model.ActiveProvider,
            model.MaxConcurrentRuns, model.IntraOpThreads, identity.Id);
    }

    /// <summary>
    /// The settings stored with each result, and compared before one is reused: the analysis options and the options of
    /// the decoder this model's contract uses (an instances/v1 model's score and mask thresholds, a dense/v1 model's).
    /// </summary>
    public static string Settings(AnalysisOptions analysis, InferenceOptions inference, Inference.Contract.ContractKind kind, string modelSha256Hex) =>
        JsonSerializer.Serialize(new
        {
            analysis, decoder = inference.DecoderOptionsFor(kind), model_sha256 = modelSha256Hex, software_version = SoftwareVersion.Current,
        });

    /// <summary>This worker's row in workers, made again where housekeeping deleted it (a worker silent for longer than Worker:KeepHistory, then back).</summary>
    public Task RegisterAsync(CancellationToken ct) =>
        workers.RegisterAsync(identity.Id, identity.Host, identity.Pid, Model.Device, Model.ActiveProvider, Model.Sha256,
            worker.AliveWithin, ct);

    /// <summary>
    /// Finishes the images in flight before the session goes away (graceful shutdown): the consumers still running
    /// after the bus stopped get their chunks analysed and committed, until the host's shutdown timeout.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Fields is not null) await Fields.Analyzer.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Fields is not null) await Fields.Analyzer.DisposeAsync();
        _model?.Dispose();
    }
}
