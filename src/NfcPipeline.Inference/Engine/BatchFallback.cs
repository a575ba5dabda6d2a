using NfcPipeline.Inference.Preprocessing;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// What a batch whose run failed in ONNX Runtime does next: each image runs alone. The batch as a whole may be what
/// failed (its memory), or one image's content; either way an image fails for its own run only, and the others get
/// their results rather than the batch's error.
/// </summary>
internal static class BatchFallback
{
    public static async ValueTask<IReadOnlyList<DecodedInstances>> EachAloneAsync(IReadOnlyList<PreprocessedImage> images,
        Func<PreprocessedImage, ValueTask<DecodedInstances>> runOne, CancellationToken cancellationToken)
    {
        var decoded = new DecodedInstances[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try { decoded[i] = await runOne(images[i]).ConfigureAwait(false); }
            catch (OnnxRuntimeException ex) when (!cancellationToken.IsCancellationRequested) { decoded[i] = DecodedInstances.RunFailed(ex); }
        }
        return decoded;
    }
}
