using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Contract;

public enum ContractKind { DenseV1, InstancesV1 }

public enum ColorOrder { Rgb, Bgr }

/// <summary>What an instances/v1 keypoint score is: a heatmap logit (torchvision) or a probability (detectron2).</summary>
public enum KeypointScoreKind { Logit, Probability }

/// <summary>How 8-bit pixels become model input: ((value × Scale) − Mean[c]) / Std[c], channels in ColorOrder.</summary>
public sealed record InputNormalization(ColorOrder ColorOrder, float Scale, float[] Mean, float[] Std)
{
    public static InputNormalization Identity { get; } = new(ColorOrder.Rgb, 1f / 255f, [0f, 0f, 0f], [1f, 1f, 1f]);
}

/// <summary>A model's self-description, parsed and validated from its ONNX metadata.</summary>
public sealed record ModelContract
{
    public required ContractKind Kind { get; init; }
    public required string ModelName { get; init; }
    public required string ModelVersion { get; init; }
    public required IReadOnlyList<string> ClassNames { get; init; }
    public required IReadOnlyList<string> KeypointNames { get; init; }
    public required InputNormalization Normalization { get; init; }
    public required SizePolicy SizePolicy { get; init; }
    /// <summary>Output stride of dense models; 1 for instance models, whose outputs are in input pixels.</summary>
    public required int Stride { get; init; }
    public required string TrainingData { get; init; }
    /// <summary>instances/v1: model label L is class L − LabelOffset of <see cref="ClassNames"/>; 0 for dense models.</summary>
    public int LabelOffset { get; init; }
    /// <summary>instances/v1: how keypoint scores become confidences in [0, 1].</summary>
    public KeypointScoreKind KeypointScore { get; init; }
    public double? TrainedMicrometresPerPixel { get; init; }

    public string ContractName => Kind == ContractKind.DenseV1 ? ModelMetadataKeys.DenseV1 : ModelMetadataKeys.InstancesV1;
}
