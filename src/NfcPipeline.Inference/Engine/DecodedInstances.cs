using NfcPipeline.Core.Domain;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// One batch item's decoded instances, or why its outputs could not be decoded: a model that emits NaN for one image
/// fails that image alone, not the batch it ran in.
/// </summary>
public readonly record struct DecodedInstances(IReadOnlyList<CapillaryInstance>? Instances, InvalidDataException? Error)
{
    public static DecodedInstances Of(IReadOnlyList<CapillaryInstance> instances) => new(instances, null);

    /// <summary>This image's decoding failed: outputs that break the contract, or a fault in the decoder, which must
    /// not fail the other images of its batch either.</summary>
    public static DecodedInstances Failed(Exception error) => new(null, error as InvalidDataException
        ?? new InvalidDataException($"Decoding this image's model outputs failed ({error.GetType().Name}: {error.Message}).", error));

    public IReadOnlyList<CapillaryInstance> InstancesOrThrow() => Error is null ? Instances! : throw new InvalidDataException(Error.Message, Error);
}
