using NfcPipeline.Core.Domain;

namespace NfcPipeline.Inference.Engine;

/// <summary>
/// One batch item's decoded instances, or why its outputs could not be decoded: a model that emits NaN for one image
/// fails that image alone, not the batch it ran in.
/// </summary>
public readonly record struct DecodedInstances(IReadOnlyList<CapillaryInstance>? Instances, InvalidDataException? Error)
{
    public static DecodedInstances Of(IReadOnlyList<CapillaryInstance> instances) => new(instances, null);

    public IReadOnlyList<CapillaryInstance> InstancesOrThrow() => Error is null ? Instances! : throw new InvalidDataException(Error.Message, Error);
}
