namespace NfcPipeline.Core.Domain;

/// <summary>
/// One capillary as a model saw it, in original image pixels. Both model contracts (dense/v1 and instances/v1)
/// decode to this record, so measurements never depend on the model family.
/// </summary>
public sealed record CapillaryInstance
{
    public required InstanceMask Mask { get; init; }
    public required BoundingBox Box { get; init; }

    /// <summary>The model's class names, shared by every instance of one model.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }

    /// <summary>Probabilities aligned with <see cref="ClassNames"/>; they sum to 1.</summary>
    public required float[] ClassProbabilities { get; init; }

    /// <summary>Detection score in [0, 1].</summary>
    public required float Score { get; init; }

    /// <summary>Exactly 8 keypoints, indexed by <see cref="KeypointName"/>.</summary>
    public required Keypoint[] Keypoints { get; init; }

    /// <summary>Distance-to-boundary samples in pixels along the vessel centreline, when the model gives them.</summary>
    public float[]? RadiusSamples { get; init; }

    public int ClassIndex
    {
        get
        {
            int best = 0;
            for (int i = 1; i < ClassProbabilities.Length; i++)
                if (ClassProbabilities[i] > ClassProbabilities[best]) best = i;
            return best;
        }
    }

    public string ClassName => ClassNames[ClassIndex];

    public Keypoint this[KeypointName name] => Keypoints[(int)name];
}
