using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Preprocessing;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// Runs preprocessed images of one shape bucket through an instances/v1 session and decodes each image's detections
/// into capillary instances in original pixels. A model that takes batches gets one run for the whole batch (its
/// batch_index output tells the images apart); any other model gets one run per image.
/// </summary>
public sealed class InstancesBatchExecutor : IBatchExecutor<PreprocessedImage, DecodedInstances>
{
    private readonly LoadedModel _model;
    private readonly InstancesDecoder _decoder;
    private readonly string[] _outputNames;
    private readonly BatchFallback _fallback;
    private readonly SpareTensor _spare = new();

    public InstancesBatchExecutor(LoadedModel model, InstancesDecoderOptions decoderOptions, BatchFallback? fallback = null)
    {
        _model = model;
        _fallback = fallback ?? new BatchFallback();
        _decoder = new InstancesDecoder(model.Contract.ClassNames, model.Contract.LabelOffset, decoderOptions, model.Contract.KeypointScore);
        _outputNames = model.OutputNames.Contains(InstancesOutputs.BatchIndex)
            ? [.. InstancesOutputs.Required, InstancesOutputs.BatchIndex]
            : [.. InstancesOutputs.Required];
    }

    public async ValueTask<IReadOnlyList<DecodedInstances>> ExecuteAsync(BatchContext<PreprocessedImage> batch, CancellationToken cancellationToken)
    {
        var images = batch.Requests;
        var decoded = new DecodedInstances[images.Count];
        if (_model.AcceptsBatches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try { await RunAndDecodeAsync(images, 0, images.Count, batch.Bucket, decoded, cancellationToken).ConfigureAwait(false); }
            catch (OnnxRuntimeException failed) when (images.Count > 1 && !cancellationToken.IsCancellationRequested)
            {
                return await _fallback.EachAloneAsync(images, failed, async image =>
                {
                    var one = new DecodedInstances[1];
                    await RunAndDecodeAsync([image], 0, 1, batch.Bucket, one, cancellationToken).ConfigureAwait(false);
                    return one[0];
                }, cancellationToken, batch.HasEnded).ConfigureAwait(false);
            }
        }
        else
        {
            for (int i = 0; i < images.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (batch.HasEnded(i)) { decoded[i] = DecodedInstances.NotRun; continue; }   // its caller has gone
                try { await RunAndDecodeAsync(images, i, 1, batch.Bucket, decoded, cancellationToken).ConfigureAwait(false); }
                catch (OnnxRuntimeException ex) when (images.Count > 1 && !cancellationToken.IsCancellationRequested)
                {
                    decoded[i] = DecodedInstances.RunFailed(ex);   // its own run: the others still run
                }
            }
        }
        return decoded;
    }

    private async ValueTask RunAndDecodeAsync(IReadOnlyList<PreprocessedImage> images, int first, int count, ShapeBucket bucket,
        DecodedInstances[] decoded, CancellationToken cancellationToken)
    {
        int length = count * 3 * bucket.Height * bucket.Width;
        var input = _spare.Rent(length);
        try
        {
            var slice = images.Skip(first).Take(count).ToList();
            BatchInput.PadInto(slice, input.AsSpan(0, length), bucket.Height, bucket.Width);
            var value = OrtValue.CreateTensorValueFromMemory(input.AsMemory(0, length), [count, 3, bucket.Height, bucket.Width]);
            using (value)
            using (var results = await _model.RunAsync(value, _outputNames, cancellationToken).ConfigureAwait(false))
            {
                // Outputs malformed as a whole fail each image of this run with the reason, rather than throw: in the
                // one-at-a-time fallback a throw discarded the results of the images that had run before it.
                InstancesOutputs outputs;
                try
                {
                    var shapes = Enumerable.Range(0, _outputNames.Length).Select(k => results[k].GetTensorTypeAndShape().Shape).ToList();
                    if (InstancesOutputs.ShapeProblem(shapes) is { } problem)
                        throw new InvalidDataException("The model's instances/v1 outputs are malformed: " + problem);
                    var masks = shapes[3];
                    outputs = new InstancesOutputs(
                        Floats(results[0]), Floats(results[1]), Integers(results[2]), NativeOutputMemory.Of(results[3]),
                        masks.Length == 4 ? (int)masks[2] : 0, masks.Length == 4 ? (int)masks[3] : 0, Floats(results[4]),
                        _outputNames.Length > 5 ? Integers(results[5]) : null, bucket.Height, bucket.Width, imageCount: count);
                }
                catch (InvalidDataException malformed)
                {
                    for (int i = 0; i < count; i++) decoded[first + i] = DecodedInstances.Failed(malformed);
                    return;
                }
                // Decoded while the results live: the masks are read in place (full-size ones are N×H×W floats).
                for (int i = 0; i < count; i++)
                {
                    // Outputs that break the contract for one image (NaN keypoints) fail that image alone.
                    try { decoded[first + i] = DecodedInstances.Of(_decoder.Decode(outputs, i, slice[i].Plan)); }
                    catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException)) { decoded[first + i] = DecodedInstances.Failed(ex); }
                }
            }
        }
        finally
        {
            _spare.Return(input);
        }
    }

    private static float[] Floats(OrtValue value) => value.GetTensorDataAsSpan<float>().ToArray();

    /// <summary>Labels and batch indices: int64 as the contract says, int32 as some exporters write them.</summary>
    private static long[] Integers(OrtValue value) => value.GetTensorTypeAndShape().ElementDataType switch
    {
        TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
        TensorElementType.Int32 => Array.ConvertAll(value.GetTensorDataAsSpan<int>().ToArray(), v => (long)v),
        var other => throw new InvalidDataException($"instances/v1 labels and batch_index must be int64, got {other}"),
    };
}
