namespace NfcPipeline.Inference.Contract;

/// <summary>The ONNX metadata_props keys of the model contract, in one place (docs/model-contract.md).</summary>
public static class ModelMetadataKeys
{
    public const string Contract = "nfc.contract";
    public const string ModelName = "nfc.model_name";
    public const string ModelVersion = "nfc.model_version";
    public const string Classes = "nfc.classes";
    public const string Keypoints = "nfc.keypoints";
    public const string ColorOrder = "nfc.input.color_order";
    public const string Scale = "nfc.input.scale";
    public const string Mean = "nfc.input.mean";
    public const string Std = "nfc.input.std";
    public const string SizePolicy = "nfc.size_policy";
    public const string Stride = "nfc.stride";
    public const string TrainingData = "nfc.training_data";
    public const string TrainedMicrometresPerPixel = "nfc.input.um_per_px";
    /// <summary>instances/v1: the label of class 0 of nfc.classes (1 when label 0 is background, as in torchvision).</summary>
    public const string LabelOffset = "nfc.label_offset";
    /// <summary>instances/v1: "logit" (torchvision: heatmap maximum) or "probability" (detectron2: spatial softmax).</summary>
    public const string KeypointScore = "nfc.keypoint_score";

    public const string DenseV1 = "dense/v1";
    public const string InstancesV1 = "instances/v1";
}
