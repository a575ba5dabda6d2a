using Microsoft.Extensions.Logging;
using NfcPipeline.Inference.Preprocessing;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// What a batch whose run failed in ONNX Runtime does next: each image runs alone. The batch as a whole may be what
/// failed (its memory), or one image's content; either way an image fails for its own run only, and the others get
/// their results rather than the batch's error. Said in the log (at most once a minute), and counted: batches that
/// keep failing run at batch 1's speed, which nothing else would show.
/// </summary>
public sealed class BatchFallback(ILogger? logger = null)
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);
    private long _batches;
    private long _lastLoggedTicks = long.MinValue;

    /// <summary>Batches whose run failed and whose images ran one at a time.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    internal async ValueTask<IReadOnlyList<DecodedInstances>> EachAloneAsync(IReadOnlyList<PreprocessedImage> images, OnnxRuntimeException cause,
        Func<PreprocessedImage, ValueTask<DecodedInstances>> runOne, CancellationToken cancellationToken, Func<int, bool>? hasEnded = null)
    {
        long count = Interlocked.Increment(ref _batches);
        long now = Environment.TickCount64, last = Interlocked.Read(ref _lastLoggedTicks);
        if ((last == long.MinValue || now - last >= LogInterval.TotalMilliseconds) && Interlocked.CompareExchange(ref _lastLoggedTicks, now, last) == last)
            logger?.LogWarning("A batch of {Images} images failed in ONNX Runtime ({Error}); its images run one at a time. " +
                "{Batches} batch(es) so far: if every batch fails, lower Inference:Batching:MaxBatchSize", images.Count, cause.Message, count);
        var decoded = new DecodedInstances[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // An image whose caller has gone (a deadline passed while the batch ran) would take a run of its own for nothing.
            if (hasEnded?.Invoke(i) == true) { decoded[i] = DecodedInstances.NotRun; continue; }
            try { decoded[i] = await runOne(images[i]).ConfigureAwait(false); }
            catch (OnnxRuntimeException ex) when (!cancellationToken.IsCancellationRequested) { decoded[i] = DecodedInstances.RunFailed(ex); }
        }
        return decoded;
    }
}
