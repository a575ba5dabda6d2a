using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using NfcPipeline.Core.Concurrency;
using NfcPipeline.Core.Domain;
using NfcPipeline.Imaging;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Contract;
using NfcPipeline.Inference.Preprocessing;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>What the model found in one image, with the image's facts and where the time went.</summary>
public sealed record ImageAnalysis(
    int Width, int Height, ImageFormat Format, IReadOnlyList<CapillaryInstance> Instances, IReadOnlyList<string> Notes,
    TimeSpan DecodeTime, TimeSpan InferenceTime);

/// <summary>
/// The inference path for single images: decode → preprocess → shared dynamic batcher → ORT → decoder. Callers
/// submit many images concurrently; decoding and preprocessing of the next images overlap the current batch's run.
/// </summary>
public sealed class ImageAnalyzer : IAsyncDisposable
{
    private readonly ImageDecoder _decoder;
    private readonly ImagePreprocessor _preprocessor;
    private readonly DynamicBatcher<PreprocessedImage, DecodedInstances> _batcher;
    private readonly int _bucketMultiple;
    private readonly long _maxInputPixels;
    private readonly SemaphoreSlim _admission;
    private readonly SemaphoreSlim _largeImages;
    private readonly long _largeImagePixels;
    private readonly BatchFallback _fallback;
    private volatile bool _stopping;
    private int _inFlight;   // images asked for and not yet answered, admitted or waiting for admission

    public ImageAnalyzer(LoadedModel model, InferenceOptions options, DynamicBatcherOptions batching,
        ImageDecoder? decoder = null, ILoggerFactory? loggers = null, Meter? meter = null)
    {
        Model = model;
        _decoder = decoder ?? new ImageDecoder();
        _maxInputPixels = Math.Max(1, options.MaxInputPixels);
        CalibrationNoteFactor = options.CalibrationNoteFactor;
        _preprocessor = new ImagePreprocessor(model.Contract.SizePolicy, model.Contract.Normalization, _maxInputPixels);
        // A fixed-size model takes exactly its size: rounding the bucket up would feed it a larger tensor.
        _bucketMultiple = model.Contract.SizePolicy is FixedSizePolicy
            ? 1
            : LeastCommonMultiple(Math.Max(1, options.BucketGranularity), model.Contract.SizePolicy is ShortSideSizePolicy s ? s.Multiple : 1);
        Batching = EffectiveBatching(model, batching);
        // One batch is one float array: its largest input must fit (larger wrapped to a negative length).
        if (Batching.MaxBatchSize > options.LargestBatch)
            throw new ArgumentException($"Inference:MaxInputPixels × 3 × MaxBatchSize must be at most {Array.MaxLength} (one batch is one " +
                $"float array), got {_maxInputPixels} × 3 × {Batching.MaxBatchSize}.", nameof(batching));
        // Enough images admitted to fill every batch slot plus PrefetchImages decoding ahead; more would only hold
        // decoded images in memory and take the cores from the model in bursts.
        int admitted = Batching.MaxBatchSize * Batching.MaxConcurrentBatches + Math.Max(0, options.PrefetchImages);
        _admission = new SemaphoreSlim(admitted, admitted);
        AdmissionLimit = admitted;
        _largeImagePixels = options.LargeImagePixels;
        _largeImages = new SemaphoreSlim(Math.Max(1, options.MaxConcurrentLargeImages), Math.Max(1, options.MaxConcurrentLargeImages));
        var log = loggers?.CreateLogger("NfcPipeline.Inference.Batcher");
        _fallback = new BatchFallback(log);
        IBatchExecutor<PreprocessedImage, DecodedInstances> executor = model.Contract.Kind switch
        {
            ContractKind.DenseV1 => new DenseBatchExecutor(model, options.Decoder, _fallback),
            ContractKind.InstancesV1 => new InstancesBatchExecutor(model, options.InstancesDecoder, _fallback),
            var kind => throw new NotSupportedException($"No executor for contract {kind}."),
        };
        _batcher = new DynamicBatcher<PreprocessedImage, DecodedInstances>(Batching, executor, BucketOf, log, meter);
    }

    public LoadedModel Model { get; }

    /// <summary>See <see cref="InferenceOptions.CalibrationNoteFactor"/>.</summary>
    public double CalibrationNoteFactor { get; }

    /// <summary>The batching policy in force: the one given, or its batch-1 form for a model that takes no batches.</summary>
    public DynamicBatcherOptions Batching { get; }

    public BatcherStatistics Statistics => _batcher.Snapshot();

    /// <summary>Batches whose ORT run failed, and whose images then ran one at a time (BatchFallback).</summary>
    public long BatchesRunAlone => _fallback.Batches;

    /// <summary>Most images between the start of their decoding and their result; callers beyond it wait their turn.</summary>
    public int AdmissionLimit { get; }

    /// <summary>
    /// Runs the model once on a full batch of blank images of the given size, then analyses one such image end to end.
    /// ORT sizes its arena and plans memory on the first run of an input shape, and the largest batch is the costliest
    /// (measured: 3.3 s against 1.1 s later, for 4 fields on 2 cores); smaller batches then fit in that arena.
    /// Without this, the first study a worker analyses pays for it.
    /// </summary>
    /// <returns>The seconds the full batch's first run took (0 when the batcher forms no batch above 1), or why it failed:
    /// a model that runs one image at a time only, or a batch beyond the device's memory, still analyses every image, as
    /// a failed batch runs its images one by one.</returns>
    public async Task<WarmUp> WarmUpAsync(int width, int height, CancellationToken cancellationToken = default)
    {
        // Within Inference:MaxInputPixels (with room for the padding), or the warm-up image would be refused as too large.
        while ((long)(width + 64) * (height + 64) > _maxInputPixels && width > 32 && height > 32) (width, height) = (width / 2, height / 2);
        var blank = new RgbImage(width, height, new byte[width * height * 3], ImageFormat.Png);
        var warmUp = new WarmUp(0, null);
        PreprocessedImage one;
        // A model that scales every image to its short side brings the blank back above the limit: said, not a failed
        // start, since images of other shapes may fit.
        try { one = _preprocessor.Run(blank.Pixels, blank.Width, blank.Height); }
        catch (ImageDecodeException tooLarge) { return new WarmUp(0, null, tooLarge.Message.TrimEnd('.')); }
        using (one)
        {
            if (Batching.MaxBatchSize > 1)
            {
                var bucket = BucketOf(one);
                int n = Batching.MaxBatchSize, channels = one.Tensor.Channels;
                var clock = Stopwatch.StartNew();
                using var value = OrtValue.CreateTensorValueFromMemory(new float[n * channels * bucket.Height * bucket.Width], [n, channels, bucket.Height, bucket.Width]);
                try
                {
                    using (await Model.RunAsync(value, cancellationToken)) { }
                    warmUp = new WarmUp(clock.Elapsed.TotalSeconds, null);
                }
                catch (OnnxRuntimeException ex) { warmUp = new WarmUp(clock.Elapsed.TotalSeconds, ex.Message); }
            }
        }
        await AnalyzeAsync(blank, cancellationToken: cancellationToken);
        return warmUp;
    }

    /// <summary>The file read once, off the caller's thread: a large image's turn and its pixels come from the same bytes.</summary>
    public Task<ImageAnalysis> AnalyzeFileAsync(string path, CancellationToken cancellationToken = default) =>
        AnalyzeContentAsync(path, (_, t) => Task.Run(() => _decoder.ReadContent(path), t), cancellationToken);

    /// <summary>
    /// An image whose bytes <paramref name="load"/> reads (given the decoder's file-size limit), once admitted, so no
    /// more files are held in memory than images are admitted; decoded from exactly those bytes, never read again.
    /// <paramref name="path"/> only names the file in a failure's reason (taken out of it).
    /// </summary>
    public Task<ImageAnalysis> AnalyzeContentAsync(string path, Func<long, CancellationToken, Task<byte[]>> load,
        CancellationToken cancellationToken = default) =>
        AdmittedAsync(async () =>
        {
            var clock = Stopwatch.StartNew();
            byte[] content;
            // A read that fails part-way (EIO, a stale network handle) says so, as the decoder's own reads do: .NET's
            // message names the path, and with it the patient's folder, which a stored reason must not.
            try { content = await load(_decoder.Options.MaxFileBytes, cancellationToken); }
            catch (Exception e) when (ImageDecoder.MapFileException(e, path) is { } mapped) { throw mapped; }
            using var turn = await LargeImageTurnAsync(content, cancellationToken);
            // Decoding is CPU work in native code: run it off the caller's thread so several images decode while the model runs.
            var image = await Task.Run(() => Decode(ref content), cancellationToken);
            return await InferAsync(image, clock.Elapsed, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// For an image larger than Inference:LargeImagePixels by its header, one of Inference:MaxConcurrentLargeImages
    /// turns, held until its result; null for an ordinary image, or a header that cannot be read (its decode says why).
    /// </summary>
    private async Task<IDisposable?> LargeImageTurnAsync(byte[] content, CancellationToken cancellationToken)
    {
        ImageInfo info;
        try { info = _decoder.ReadHeader(content); }
        catch (ImageDecodeException) { return null; }
        long pixels = (long)info.Width * info.Height;
        // Over the decoder's own limit it fails at once as TooLarge: no turn to wait for.
        if (pixels <= _largeImagePixels || pixels > _decoder.Options.MaxPixels) return null;
        Interlocked.Increment(ref _largeImagesWaiting);
        try { await _largeImages.WaitAsync(cancellationToken); }
        finally { Interlocked.Decrement(ref _largeImagesWaiting); }
        return new SemaphoreTurn(_largeImages);
    }

    private int _largeImagesWaiting;

    /// <summary>Large images admitted and waiting for a turn (Inference:MaxConcurrentLargeImages).</summary>
    public int LargeImagesWaiting => Volatile.Read(ref _largeImagesWaiting);

    /// <summary>The large images' turns, for a test to hold one.</summary>
    internal SemaphoreSlim LargeImageTurns => _largeImages;

    /// <summary>Decodes the file's bytes and lets them go (the closure that holds them lives until the result).</summary>
    private RgbImage Decode(ref byte[] content)
    {
        var image = _decoder.Decode(content);
        content = [];
        return image;
    }

    public Task<ImageAnalysis> AnalyzeAsync(RgbImage image, TimeSpan decodeTime = default, CancellationToken cancellationToken = default) =>
        AdmittedAsync(() => InferAsync(image, decodeTime, cancellationToken), cancellationToken);

    private async Task<ImageAnalysis> AdmittedAsync(Func<Task<ImageAnalysis>> work, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        try { return await AdmittedCoreAsync(work, cancellationToken); }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    private async Task<ImageAnalysis> AdmittedCoreAsync(Func<Task<ImageAnalysis>> work, CancellationToken cancellationToken)
    {
        await _admission.WaitAsync(cancellationToken);
        try
        {
            return await work();
        }
        catch (Exception ex) when (_stopping && ex is InvalidOperationException)   // ObjectDisposedException included
        {
            // Not this image's fault: the worker is stopping. A cancellation, so callers retry the image later rather
            // than record it as failed.
            throw new OperationCanceledException("The analyzer is stopping; the image was not analysed.", ex);
        }
        finally
        {
            _admission.Release();
        }
    }

    /// <summary>
    /// Preprocesses the image and waits for its batch. Not async itself: the decoded pixels (up to 150 MB an image) are
    /// not kept in a state machine while the image waits for its batch, only the tensor and what the result reports.
    /// </summary>
    private Task<ImageAnalysis> InferAsync(RgbImage image, TimeSpan decodeTime, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var tensor = _preprocessor.Run(image.Pixels, image.Width, image.Height);
        return InferAsync(tensor, (image.Width, image.Height, image.SourceFormat, image.Notes), decodeTime, clock, cancellationToken);
    }

    private async Task<ImageAnalysis> InferAsync(PreprocessedImage tensor, (int Width, int Height, ImageFormat Format, IReadOnlyList<string> Notes) image,
        TimeSpan decodeTime, Stopwatch clock, CancellationToken cancellationToken)
    {
        IReadOnlyList<CapillaryInstance> instances;
        try
        {
            instances = (await _batcher.SubmitAsync(tensor, cancellationToken)).InstancesOrThrow();
        }
        catch (Exception ex) when (ex is OperationCanceledException or DeadlineExceededException)
        {
            // The batch may still be reading this tensor (a deadline can pass while it runs): leave its buffer to the
            // GC rather than the pool, where the next image would overwrite it under the running batch.
            throw;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
        tensor.Dispose();
        return new ImageAnalysis(image.Width, image.Height, image.Format, instances, image.Notes, decodeTime, clock.Elapsed);
    }

    /// <summary>
    /// A model that takes no batches (<see cref="LoadedModel.AcceptsBatches"/>) runs in batch-1 mode: every request
    /// is its own batch, and up to MaxConcurrentBatches runs stay in flight at once, so the cores stay busy.
    /// </summary>
    private static DynamicBatcherOptions EffectiveBatching(LoadedModel model, DynamicBatcherOptions batching)
    {
        if (model.AcceptsBatches || batching.MaxBatchSize == 1) return batching;
        return new DynamicBatcherOptions
        {
            Name = batching.Name, MaxBatchSize = 1, MaxQueueDelay = TimeSpan.Zero, PreferredBatchSizes = new List<int>(),
            QueueCapacity = batching.QueueCapacity, MaxConcurrentBatches = batching.MaxConcurrentBatches,
            DefaultDeadline = batching.DefaultDeadline, StatisticsWindow = batching.StatisticsWindow,
        };
    }

    /// <summary>The image's shape bucket; its own padded size where rounding up would take the tensor past
    /// Inference:MaxInputPixels, the limit the image itself was checked against.</summary>
    private ShapeBucket BucketOf(PreprocessedImage image)
    {
        var bucket = ShapeBucket.RoundUp(image.Plan.PaddedHeight, image.Plan.PaddedWidth, _bucketMultiple);
        return (long)bucket.Height * bucket.Width <= _maxInputPixels ? bucket : new ShapeBucket(image.Plan.PaddedHeight, image.Plan.PaddedWidth);
    }

    private static int LeastCommonMultiple(int a, int b)
    {
        int gcd = a, r = b;
        while (r != 0) (gcd, r) = (r, gcd % r);
        return a / gcd * b;
    }

    /// <summary>
    /// Graceful stop: the images already asked for, admitted or waiting, are analysed (their chunks can commit) until
    /// <paramref name="cancellationToken"/> fires; whatever is left then ends as a cancellation. Then as DisposeAsync.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        while (Volatile.Read(ref _inFlight) > 0 && !cancellationToken.IsCancellationRequested)
        {
            try { await Task.Delay(20, cancellationToken); }
            catch (OperationCanceledException) { break; }
        }
        if (cancellationToken.IsCancellationRequested)
        {
            // Out of time: what is still queued ends as a cancellation now rather than being run by the drain below
            // (a batch ONNX Runtime is running is told to terminate by the drain's cancellation).
            _stopping = true;
            try { await _batcher.DrainAsync(cancellationToken); }
            catch (OperationCanceledException) { }
        }
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        // The admission semaphore is left undisposed: images still waiting on it wake, find the batcher gone and end
        // as cancellations (above), instead of waiting forever or failing in Release.
        _stopping = true;
        await _batcher.DisposeAsync();
    }
}

/// <summary>A warm-up's full batch: how long its first run took, and why it failed where it did.</summary>
/// <param name="Skipped">Why no warm-up ran: the model's input for a warm-up image is above Inference:MaxInputPixels.</param>
public sealed record WarmUp(double FullBatchSeconds, string? FullBatchError, string? Skipped = null);
