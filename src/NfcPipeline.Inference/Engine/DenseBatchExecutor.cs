using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Preprocessing;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// Runs one batch of preprocessed images of one shape bucket through a dense/v1 session: pads them into one
/// [N,3,H,W] tensor, runs ORT, and decodes each image's maps into capillary instances in original pixels.
/// </summary>
public sealed class DenseBatchExecutor(LoadedModel model, DenseDecoderOptions decoderOptions, BatchFallback? fallback = null)
    : IBatchExecutor<PreprocessedImage, DecodedInstances>
{
    private readonly DenseDecoder _decoder = new(model.Contract.ClassNames, model.Contract.Stride, decoderOptions);
    private readonly BatchFallback _fallback = fallback ?? new();
    private readonly SpareTensor _spare = new();

    public async ValueTask<IReadOnlyList<DecodedInstances>> ExecuteAsync(BatchContext<PreprocessedImage> batch, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try { return await RunAsync(batch.Requests, batch.Bucket, cancellationToken).ConfigureAwait(false); }
        catch (OnnxRuntimeException failed) when (batch.Requests.Count > 1 && !cancellationToken.IsCancellationRequested)
        {
            return await _fallback.EachAloneAsync(batch.Requests, failed,
                async image => (await RunAsync([image], batch.Bucket, cancellationToken).ConfigureAwait(false))[0], cancellationToken, batch.HasEnded)
                .ConfigureAwait(false);
        }
    }

    private async ValueTask<IReadOnlyList<DecodedInstances>> RunAsync(IReadOnlyList<PreprocessedImage> images, ShapeBucket bucket,
        CancellationToken cancellationToken)
    {
        int n = images.Count, height = bucket.Height, width = bucket.Width;
        int plane = height * width, length = n * 3 * plane;
        var input = BatchInput.CanUseDirectly(images, height, width) ? null : _spare.Rent(length);
        try
        {
            Memory<float> memory;
            if (input is null) memory = images[0].Tensor.Memory;
            else
            {
                memory = input.AsMemory(0, length);
                BatchInput.PadInto(images, memory.Span, height, width);
            }
            using var value = OrtValue.CreateTensorValueFromMemory(memory, [n, 3, height, width]);
            using var results = await model.RunAsync(value, cancellationToken).ConfigureAwait(false);
            // Decoded straight from ORT's buffers, before the results are released.
            var tensors = NativeOutputMemory.Wrap(results, model.OutputNames);
            var decoded = new DecodedInstances[n];
            for (int i = 0; i < n; i++)
            {
                try
                {
                    decoded[i] = DecodedInstances.Of(_decoder.Decode(DenseOutputs.ForBatchItem(tensors, i, model.Contract.ClassNames.Count),
                        images[i].Plan, new FieldBrightness(images[i].Tensor.Memory, images[i].Plan), (height, width)));
                }
                catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException)) { decoded[i] = DecodedInstances.Failed(ex); }
            }
            return decoded;
        }
        finally
        {
            if (input is not null) _spare.Return(input);
        }
    }
}
