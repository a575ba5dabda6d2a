using NfcPipeline.Inference.Decoding;

namespace NfcPipeline.Inference;

/// <summary>Inference policy as data (bound from the "Inference" section), after Triton's model configuration.</summary>
public sealed class InferenceOptions
{
    public const string Section = "Inference";
    public const string DefaultModelPath = "models/nfc-reference.onnx";

    /// <summary>libonnxruntime.so.1; falls back to NFC_ORT_LIBRARY, then .local/native/.</summary>
    public string? OnnxRuntimePath { get; set; }

    /// <summary>The .onnx model; a relative path is looked up from the current directory and its parents.</summary>
    public string ModelPath { get; set; } = DefaultModelPath;

    /// <summary>
    /// "auto" (the GPU, device 0, where the ONNX Runtime build carries CUDA; else the CPU), "cpu", "cuda" or "cuda:N".
    /// CUDA falls back to the CPU, with one warning, when it cannot start.
    /// </summary>
    public string Device { get; set; } = NfcPipeline.OnnxRuntime.ExecutionProviders.Auto;

    /// <summary>
    /// The session's ORT intra-op thread pool, shared by its concurrent runs; 0 chooses: on the CPU cores − runs + 1, so
    /// the runs' own threads and the pool's workers fill the cores (<see cref="Engine.CpuRunPlan"/>), on a GPU ORT's own
    /// default.
    /// </summary>
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// When set, ORT times every operator and writes the trace to PREFIX_&lt;timestamp&gt;.json when the model is
    /// unloaded (`nfc bench inference --ort-profile`). It slows every run: for tuning, not for production.
    /// </summary>
    public string? OrtProfilePrefix { get; set; }

    /// <summary>
    /// Session runs executing at once on one session; 0 chooses: 2 on the CPU (1 on a single core), sharing the
    /// session's thread pool (<see cref="IntraOpThreads"/>, <see cref="Engine.CpuRunPlan"/>: a second stream fills the
    /// gaps of the first), and 2 on a GPU.
    /// Batches beyond this wait at the gate with their input ready, and decode their outputs after leaving it, so host
    /// work overlaps the model.
    /// </summary>
    public int MaxConcurrentRuns { get; set; }

    /// <summary>
    /// The largest model input (padded width × height) an image may become; above it the image fails alone as
    /// TooLarge, before its tensor is allocated. 4096² by default: capillaroscopes give 1–5 megapixels.
    /// </summary>
    public long MaxInputPixels { get; set; } = 4096L * 4096;

    /// <summary>The largest batch of <see cref="MaxInputPixels"/>-sized inputs that fits one float array, as every batch must.</summary>
    public long LargestBatch => Array.MaxLength / (3 * Math.Max(1, MaxInputPixels));

    /// <summary>
    /// An image whose calibration is more than this factor from the scale the model says it was trained at
    /// (nfc.input.um_per_px) gets a note: its capillaries are larger or smaller in pixels than those the model learned
    /// from. 1.5 around the reference model's 2.25 µm/px spans 1.5–3.375 µm/px (it was trained on 1.5–3). 0: no note.
    /// </summary>
    public double CalibrationNoteFactor { get; set; } = 1.5;

    /// <summary>The largest <see cref="MaxInputPixels"/> allowed: a batch of 8 such inputs still fits one float array.</summary>
    public const long MaxInputPixelsLimit = 8192L * 8192;

    /// <summary>Images are bucketed by padded size rounded up to this many pixels, so similar sizes share batches.</summary>
    public int BucketGranularity { get; set; } = 32;

    /// <summary>The coarsest <see cref="BucketGranularity"/>: beyond it a bucket pads an image by more than itself.</summary>
    public const int MaxBucketGranularity = 1024;

    /// <summary>
    /// Images decoded and preprocessed ahead of inference, so IO and CPU work overlap the model runs. The analyzer
    /// admits MaxBatchSize × MaxConcurrentBatches + this many images at once; the rest wait before decoding.
    /// </summary>
    public int PrefetchImages { get; set; } = 4;

    /// <summary>The most images <see cref="PrefetchImages"/> may read ahead.</summary>
    public const int MaxPrefetchImages = 256;

    /// <summary>The most of <see cref="MaxConcurrentRuns"/> and <see cref="IntraOpThreads"/>: far past any machine's cores.</summary>
    public const int MaxRunsOrThreads = 256;

    /// <summary>
    /// Images of more pixels than this (by their header) are large: at most <see cref="MaxConcurrentLargeImages"/> of
    /// them are decoded and analysed at once, beside any number of ordinary ones. Admission counts images, and a 50 MP
    /// field (a stitched mosaic, a scanner's TIFF) holds several hundred MB between its decode and its result (its
    /// pixels, the decoder's buffers, the model's input): a chunk of them admitted together would take the worker's memory.
    /// </summary>
    public long LargeImagePixels { get; set; } = 12_000_000;

    /// <summary>
    /// Large images (<see cref="LargeImagePixels"/>) decoded and analysed at once. One waiting for its turn keeps its
    /// admission slot (and its file's bytes, read already): memory stays bounded by admission, and a chunk of large
    /// fields runs them one by one, ordinary images queueing behind them once every slot holds one.
    /// </summary>
    public int MaxConcurrentLargeImages { get; set; } = 1;

    /// <summary>Decoder thresholds for dense/v1 models.</summary>
    public DenseDecoderOptions Decoder { get; set; } = new();

    /// <summary>Decoder thresholds for instances/v1 models (Mask R-CNN family).</summary>
    public InstancesDecoderOptions InstancesDecoder { get; set; } = new();

    /// <summary>
    /// The decoder options a model of <paramref name="kind"/> is decoded with: stored with its results (a worker's
    /// settings), so that a result is reused only under the thresholds that found its capillaries.
    /// </summary>
    public object DecoderOptionsFor(Contract.ContractKind kind) => kind == Contract.ContractKind.InstancesV1 ? InstancesDecoder : Decoder;

    /// <summary>What is wrong with these settings, one sentence each, naming the setting; empty when they can run.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        // Checked, not resolved: resolving "auto" looks at the ONNX Runtime library, which must not load before
        // Inference:OnnxRuntimePath is applied.
        try { if (!NfcPipeline.OnnxRuntime.ExecutionProviders.IsAuto(Device ?? "")) NfcPipeline.OnnxRuntime.ExecutionProviders.ParseDevice(Device ?? ""); }
        catch (ArgumentException ex) { problems.Add($"Inference:Device: {ex.Message.Split(" (Parameter", 2)[0]}"); }
        if (IntraOpThreads is < 0 or > MaxRunsOrThreads)
            problems.Add($"Inference:IntraOpThreads must be 0 (automatic) to {MaxRunsOrThreads}, got {IntraOpThreads}.");
        if (MaxConcurrentRuns is < 0 or > MaxRunsOrThreads)
            problems.Add($"Inference:MaxConcurrentRuns must be 0 (automatic) to {MaxRunsOrThreads}, got {MaxConcurrentRuns}.");
        if (BucketGranularity is < 1 or > MaxBucketGranularity)
            problems.Add($"Inference:BucketGranularity must be 1 to {MaxBucketGranularity}, got {BucketGranularity}.");
        // Bounded: each image read ahead holds its file and tensor, and int.MaxValue overflowed the admission count.
        if (PrefetchImages is < 0 or > MaxPrefetchImages)
            problems.Add($"Inference:PrefetchImages must be 0 to {MaxPrefetchImages}, got {PrefetchImages}.");
        if (!(CalibrationNoteFactor == 0 || CalibrationNoteFactor >= 1 && double.IsFinite(CalibrationNoteFactor)))
            problems.Add($"Inference:CalibrationNoteFactor must be 0 (no note) or at least 1, got {CalibrationNoteFactor}.");
        if (LargeImagePixels < 1_000_000)
            problems.Add($"Inference:LargeImagePixels must be at least 1000000 (1 MP), got {LargeImagePixels}.");
        if (MaxConcurrentLargeImages is < 1 or > 64)
            problems.Add($"Inference:MaxConcurrentLargeImages must be 1 to 64, got {MaxConcurrentLargeImages}.");
        if (MaxInputPixels is < 1 or > MaxInputPixelsLimit)
            problems.Add($"Inference:MaxInputPixels must be 1 to {MaxInputPixelsLimit} (8192²), got {MaxInputPixels}.");
        // The decoders check their own options when built, after the model has loaded; asked here, a bad threshold
        // stops the worker before anything starts, named like the others.
        foreach (var (section, validate) in new (string, Action)[] { ("Inference:Decoder", Decoder.Validate), ("Inference:InstancesDecoder", InstancesDecoder.Validate) })
        {
            try { validate(); }
            catch (ArgumentOutOfRangeException ex)
            {
                problems.Add($"{section}:{ex.ParamName} {ex.Message.Split(" (Parameter", 2)[0]}" + (ex.ActualValue is { } v ? $", got {v}." : "."));
            }
        }
        return problems;
    }
}
