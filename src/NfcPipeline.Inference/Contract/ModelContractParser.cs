using System.Globalization;
using System.Text.Json;
using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Contract;

/// <summary>Reads a <see cref="ModelContract"/> from ONNX custom metadata, collecting every problem before failing.</summary>
public static class ModelContractParser
{
    public static ModelContract Parse(IReadOnlyDictionary<string, string> metadata, string modelDescription = "The model")
    {
        var problems = new List<string>();
        string? Required(string key)
        {
            if (metadata.TryGetValue(key, out var v) && !string.IsNullOrWhiteSpace(v)) return v;
            problems.Add($"metadata key '{key}' is missing");
            return null;
        }

        var kind = Required(ModelMetadataKeys.Contract) switch
        {
            null => (ContractKind?)null,
            ModelMetadataKeys.DenseV1 => ContractKind.DenseV1,
            ModelMetadataKeys.InstancesV1 => ContractKind.InstancesV1,
            var other => Fail<ContractKind?>(problems, $"'{ModelMetadataKeys.Contract}' is '{other}'; supported: {ModelMetadataKeys.DenseV1}, {ModelMetadataKeys.InstancesV1}"),
        };
        var name = Required(ModelMetadataKeys.ModelName);
        var version = Required(ModelMetadataKeys.ModelVersion);
        var training = Required(ModelMetadataKeys.TrainingData);
        var classes = StringArray(metadata, ModelMetadataKeys.Classes, problems);
        if (classes is { Length: 0 }) problems.Add($"'{ModelMetadataKeys.Classes}' lists no classes");
        if (classes is not null && classes.Distinct(StringComparer.Ordinal).Count() != classes.Length)
            problems.Add($"'{ModelMetadataKeys.Classes}' has duplicate names");
        var keypoints = StringArray(metadata, ModelMetadataKeys.Keypoints, problems);
        if (keypoints is not null && !keypoints.SequenceEqual(NfcPipeline.Core.Domain.KeypointNames.Canonical, StringComparer.OrdinalIgnoreCase))
            problems.Add($"'{ModelMetadataKeys.Keypoints}' must be the 8 ANFC names in order [{string.Join(", ", NfcPipeline.Core.Domain.KeypointNames.Canonical)}], got [{string.Join(", ", keypoints)}]");

        var normalization = ParseNormalization(metadata, problems);
        var sizePolicy = Required(ModelMetadataKeys.SizePolicy) is { } sp ? ParseSizePolicy(sp, problems) : null;
        int stride = 1;
        if (kind == ContractKind.DenseV1)
        {
            var s = Required(ModelMetadataKeys.Stride);
            if (s is not null && (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out stride) || stride is not (1 or 2 or 4 or 8)))
                problems.Add($"'{ModelMetadataKeys.Stride}' must be 1, 2, 4 or 8, got '{s}'");
        }
        int labelOffset = 0;
        var keypointScore = KeypointScoreKind.Logit;
        if (kind == ContractKind.InstancesV1)
        {
            labelOffset = 1;
            if (metadata.TryGetValue(ModelMetadataKeys.LabelOffset, out var lo)
                && (!int.TryParse(lo, NumberStyles.None, CultureInfo.InvariantCulture, out labelOffset) || labelOffset > 1))
                problems.Add($"'{ModelMetadataKeys.LabelOffset}' must be 0 or 1, got '{lo}'");
            keypointScore = metadata.GetValueOrDefault(ModelMetadataKeys.KeypointScore) switch
            {
                null or "logit" => KeypointScoreKind.Logit,
                "probability" => KeypointScoreKind.Probability,
                var other => Fail<KeypointScoreKind>(problems, $"'{ModelMetadataKeys.KeypointScore}' must be logit or probability, got '{other}'"),
            };
        }
        double? trainedScale = null;
        if (metadata.TryGetValue(ModelMetadataKeys.TrainedMicrometresPerPixel, out var um))
        {
            if (double.TryParse(um, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && double.IsFinite(v)) trainedScale = v;
            else problems.Add($"'{ModelMetadataKeys.TrainedMicrometresPerPixel}' must be a positive number, got '{um}'");
        }

        if (problems.Count > 0) throw new ModelContractException(modelDescription, problems);
        return new ModelContract
        {
            Kind = kind!.Value, ModelName = name!, ModelVersion = version!, ClassNames = classes!, KeypointNames = keypoints!,
            Normalization = normalization!, SizePolicy = sizePolicy!, Stride = stride, TrainingData = training!,
            TrainedMicrometresPerPixel = trainedScale, LabelOffset = labelOffset, KeypointScore = keypointScore,
        };
    }

    private static T Fail<T>(List<string> problems, string problem) { problems.Add(problem); return default!; }

    private static string[]? StringArray(IReadOnlyDictionary<string, string> metadata, string key, List<string> problems)
    {
        if (!metadata.TryGetValue(key, out var json)) { problems.Add($"metadata key '{key}' is missing"); return null; }
        try
        {
            var values = JsonSerializer.Deserialize<string[]>(json);
            if (values is null || values.Any(string.IsNullOrWhiteSpace)) throw new JsonException("null or empty entries");
            return values;
        }
        catch (JsonException) { problems.Add($"'{key}' must be a JSON array of non-empty strings, got '{json}'"); return null; }
    }

    private static float[]? Triple(IReadOnlyDictionary<string, string> metadata, string key, List<string> problems, bool positive)
    {
        if (!metadata.TryGetValue(key, out var json)) { problems.Add($"metadata key '{key}' is missing"); return null; }
        try
        {
            var values = JsonSerializer.Deserialize<float[]>(json);
            if (values is { Length: 3 } && values.All(float.IsFinite) && (!positive || values.All(v => v > 0))) return values;
        }
        catch (JsonException) { }
        problems.Add($"'{key}' must be a JSON array of 3 {(positive ? "positive " : "")}numbers, got '{json}'");
        return null;
    }

    private static InputNormalization? ParseNormalization(IReadOnlyDictionary<string, string> metadata, List<string> problems)
    {
        ColorOrder? order = metadata.GetValueOrDefault(ModelMetadataKeys.ColorOrder)?.ToUpperInvariant() switch
        {
            "RGB" => ColorOrder.Rgb,
            "BGR" => ColorOrder.Bgr,
            null => Fail<ColorOrder?>(problems, $"metadata key '{ModelMetadataKeys.ColorOrder}' is missing"),
            var other => Fail<ColorOrder?>(problems, $"'{ModelMetadataKeys.ColorOrder}' must be RGB or BGR, got '{other}'"),
        };
        float? scale = null;
        if (!metadata.TryGetValue(ModelMetadataKeys.Scale, out var s)) problems.Add($"metadata key '{ModelMetadataKeys.Scale}' is missing");
        else if (float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0 && float.IsFinite(f)) scale = f;
        else problems.Add($"'{ModelMetadataKeys.Scale}' must be a positive number, got '{s}'");
        var mean = Triple(metadata, ModelMetadataKeys.Mean, problems, positive: false);
        var std = Triple(metadata, ModelMetadataKeys.Std, problems, positive: true);
        return order is null || scale is null || mean is null || std is null ? null : new InputNormalization(order.Value, scale.Value, mean, std);
    }

    private static SizePolicy? ParseSizePolicy(string json, List<string> problems)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            // Wrong kinds ("768" for a number, a bare number for the object) are refused like wrong values, not thrown.
            var mode = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("mode", out var m) && m.ValueKind == JsonValueKind.String
                ? m.GetString() : null;
            int Int(string property) => root.TryGetProperty(property, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var v)
                ? v : -1;
            switch (mode)
            {
                case "short_side":
                    int shortSide = Int("short_side"), multiple = Int("multiple");
                    // A larger multiple is no model's stride, a larger side no model's input.
                    if (shortSide is < 0 or > MaxSide || multiple is < 1 or > 1024) break;
                    return new ShortSideSizePolicy(shortSide, multiple);
                case "fixed":
                    int w = Int("width"), h = Int("height");
                    if (w is < 1 or > MaxSide || h is < 1 or > MaxSide) break;
                    return new FixedSizePolicy(w, h);
            }
        }
        catch (JsonException) { }
        problems.Add($"'{ModelMetadataKeys.SizePolicy}' must be {{\"mode\":\"short_side\",\"short_side\":S in 0..{MaxSide},\"multiple\":M in 1..1024}} or " +
            $"{{\"mode\":\"fixed\",\"width\":W,\"height\":H}} with W and H in 1..{MaxSide}, got '{json}'");
        return null;
    }

    /// <summary>The largest side a size policy may ask for.</summary>
    private const int MaxSide = 16384;
}
