namespace NfcPipeline.Inference.Decoding;

/// <summary>Thresholds of the instances/v1 decoder (docs/model-contract.md).</summary>
public sealed record InstancesDecoderOptions
{
    /// <summary>Detections scoring below this are dropped.</summary>
    public float ScoreThreshold { get; init; } = 0.5f;
    /// <summary>A pasted mask pixel is foreground when its probability is above this.</summary>
    public float MaskThreshold { get; init; } = 0.5f;
    /// <summary>Per-class NMS, for exports that leave it out; idempotent on exports that already applied it at this IoU.</summary>
    public bool ApplyNms { get; init; } = true;
    /// <summary>A detection whose box overlaps a higher-scoring one of its class by more than this IoU is suppressed.</summary>
    public float NmsIouThreshold { get; init; } = 0.5f;
    public int MaxInstances { get; init; } = 500;

    public void Validate()
    {
        // Written so that NaN fails too: it would drop every detection, or switch NMS off, without a word.
        if (!(ScoreThreshold is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(ScoreThreshold), ScoreThreshold, "must be in [0, 1)");
        if (!(MaskThreshold is > 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(MaskThreshold), MaskThreshold, "must be in (0, 1)");
        if (!(NmsIouThreshold is > 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(NmsIouThreshold), NmsIouThreshold, "must be in (0, 1]");
        if (MaxInstances < 1) throw new ArgumentOutOfRangeException(nameof(MaxInstances), MaxInstances, "must be at least 1");
    }
}
