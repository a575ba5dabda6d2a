using System.Runtime.ExceptionServices;
using NfcPipeline.Core.Domain;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// One batch item's decoded instances, or why it has none: a model that emits NaN for one image, or whose run fails for
/// one image, fails that image alone, not the batch it ran in.
/// </summary>
public readonly record struct DecodedInstances(IReadOnlyList<CapillaryInstance>? Instances, Exception? Error)
{
    public static DecodedInstances Of(IReadOnlyList<CapillaryInstance> instances) => new(instances, null);

    /// <summary>This image's decoding failed: outputs that break the contract, or a fault in the decoder, which must
    /// not fail the other images of its batch either.</summary>
    public static DecodedInstances Failed(Exception error) => new(null, error as InvalidDataException
        ?? new InvalidDataException($"Decoding this image's model outputs failed ({error.GetType().Name}: {error.Message}).", error));

    /// <summary>Not run: its request ended (cancelled, past its deadline) before its turn, and its result goes nowhere.</summary>
    public static DecodedInstances NotRun { get; } = new(null, new OperationCanceledException("The image's request ended before its turn to run."));

    /// <summary>This image's run failed in ONNX Runtime when it ran alone (reported as an inference failure).</summary>
    public static DecodedInstances RunFailed(OnnxRuntimeException error) => new(null, error);

    public IReadOnlyList<CapillaryInstance> InstancesOrThrow()
    {
        // Its own kind and all (TensorTooLargeException is not tried again): this image's run's exception, as thrown.
        if (Error is OnnxRuntimeException run) ExceptionDispatchInfo.Throw(run);
        return Error is { } decode ? throw new InvalidDataException(decode.Message, decode) : Instances!;
    }
}
