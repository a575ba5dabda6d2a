using NfcPipeline.Inference.Contract;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Tests.Contract;

public class ModelContractParserTests
{
    public static Dictionary<string, string> ValidDense() => new()
    {
        ["nfc.contract"] = "dense/v1",
        ["nfc.model_name"] = "nfc-reference",
        ["nfc.model_version"] = "1.0.0",
        ["nfc.classes"] = """["hairpin","tortuous","ramified","hemorrhage","blur"]""",
        ["nfc.keypoints"] = """["up","down","left-left","left-right","right-left","right-right","left-bottom","right-bottom"]""",
        ["nfc.input.color_order"] = "RGB",
        ["nfc.input.scale"] = "0.00392156862745098",
        ["nfc.input.mean"] = "[0.5,0.4,0.3]",
        ["nfc.input.std"] = "[0.25,0.25,0.2]",
        ["nfc.size_policy"] = """{"mode":"short_side","short_side":0,"multiple":32}""",
        ["nfc.stride"] = "2",
        ["nfc.training_data"] = "nfc-sim 0.1.0 seed 7",
    };

    [Fact]
    public void A_complete_dense_contract_parses_into_typed_values()
    {
        var contract = ModelContractParser.Parse(ValidDense());

        Assert.Equal(ContractKind.DenseV1, contract.Kind);
        Assert.Equal("dense/v1", contract.ContractName);
        Assert.Equal(["hairpin", "tortuous", "ramified", "hemorrhage", "blur"], contract.ClassNames);
        Assert.Equal(8, contract.KeypointNames.Count);
        Assert.Equal(ColorOrder.Rgb, contract.Normalization.ColorOrder);
        Assert.Equal([0.5f, 0.4f, 0.3f], contract.Normalization.Mean);
        Assert.Equal(new ShortSideSizePolicy(0, 32), contract.SizePolicy);
        Assert.Equal(2, contract.Stride);
        Assert.Null(contract.TrainedMicrometresPerPixel);
    }

    [Fact]
    public void Every_problem_is_listed_at_once()
    {
        var metadata = ValidDense();
        metadata.Remove("nfc.model_name");
        metadata["nfc.stride"] = "3";
        metadata["nfc.input.std"] = "[1,0,1]";
        metadata["nfc.keypoints"] = """["up","down"]""";
        metadata["nfc.size_policy"] = """{"mode":"stretch"}""";

        var error = Assert.Throws<ModelContractException>(() => ModelContractParser.Parse(metadata, "model x.onnx"));

        Assert.Equal(5, error.Problems.Count);
        Assert.Contains(error.Problems, p => p.Contains("'nfc.model_name' is missing"));
        Assert.Contains(error.Problems, p => p.Contains("'nfc.stride' must be 1, 2, 4 or 8"));
        Assert.Contains(error.Problems, p => p.Contains("'nfc.input.std' must be a JSON array of 3 positive numbers"));
        Assert.Contains(error.Problems, p => p.Contains("8 ANFC names"));
        Assert.Contains(error.Problems, p => p.Contains("'nfc.size_policy'"));
        Assert.StartsWith("model x.onnx does not meet", error.Message);
    }

    [Theory]
    [InlineData("""{"mode":"short_side","short_side":"768","multiple":"32"}""")]
    [InlineData("""{"mode":1}""")]
    [InlineData("768")]
    [InlineData("""{"mode":"short_side","short_side":0,"multiple":2147483647}""")]
    [InlineData("""{"mode":"short_side","short_side":1000000,"multiple":32}""")]
    [InlineData("""{"mode":"fixed","width":20000,"height":512}""")]
    public void A_size_policy_of_the_wrong_kinds_is_listed_with_the_other_problems_not_thrown(string policy)
    {
        var metadata = ValidDense();
        metadata["nfc.size_policy"] = policy;
        metadata["nfc.stride"] = "3";

        var error = Assert.Throws<ModelContractException>(() => ModelContractParser.Parse(metadata));

        Assert.Equal(2, error.Problems.Count);
        Assert.Contains(error.Problems, p => p.StartsWith("'nfc.size_policy' must be", StringComparison.Ordinal) && p.Contains(policy));
    }

    [Fact]
    public void A_model_without_any_contract_metadata_is_refused_clearly()
    {
        var error = Assert.Throws<ModelContractException>(() => ModelContractParser.Parse(new Dictionary<string, string>()));
        Assert.Contains(error.Problems, p => p == "metadata key 'nfc.contract' is missing");
        Assert.True(error.Problems.Count >= 10);
    }

    [Fact]
    public void Unknown_contract_and_fixed_size_policy_and_bgr()
    {
        var metadata = ValidDense();
        metadata["nfc.contract"] = "dense/v2";
        Assert.Contains("supported: dense/v1, instances/v1",
            Assert.Throws<ModelContractException>(() => ModelContractParser.Parse(metadata)).Message);

        metadata["nfc.contract"] = "instances/v1";
        metadata.Remove("nfc.stride");
        metadata["nfc.size_policy"] = """{"mode":"fixed","width":640,"height":480}""";
        metadata["nfc.input.color_order"] = "bgr";
        metadata["nfc.input.um_per_px"] = "2.0";
        var contract = ModelContractParser.Parse(metadata);
        Assert.Equal(ContractKind.InstancesV1, contract.Kind);
        Assert.Equal(new FixedSizePolicy(640, 480), contract.SizePolicy);
        Assert.Equal(ColorOrder.Bgr, contract.Normalization.ColorOrder);
        Assert.Equal(1, contract.Stride);
        Assert.Equal(2.0, contract.TrainedMicrometresPerPixel);
        Assert.Equal(1, contract.LabelOffset);
    }

    [Fact]
    public void Instances_label_offset_defaults_to_torchvision_background_zero_and_accepts_only_0_or_1()
    {
        var metadata = ValidDense();
        metadata["nfc.contract"] = "instances/v1";
        metadata["nfc.label_offset"] = "0";
        Assert.Equal(0, ModelContractParser.Parse(metadata).LabelOffset);

        metadata["nfc.label_offset"] = "2";
        Assert.Contains(Assert.Throws<ModelContractException>(() => ModelContractParser.Parse(metadata)).Problems,
            p => p == "'nfc.label_offset' must be 0 or 1, got '2'");
        Assert.Equal(0, ModelContractParser.Parse(ValidDense()).LabelOffset);
    }

    [Fact]
    public void Instances_keypoint_scores_are_logits_unless_declared_probabilities()
    {
        var metadata = ValidDense();
        metadata["nfc.contract"] = "instances/v1";
        Assert.Equal(KeypointScoreKind.Logit, ModelContractParser.Parse(metadata).KeypointScore);
        metadata["nfc.keypoint_score"] = "probability";
        Assert.Equal(KeypointScoreKind.Probability, ModelContractParser.Parse(metadata).KeypointScore);
        metadata["nfc.keypoint_score"] = "softmax";
        Assert.Contains(Assert.Throws<ModelContractException>(() => ModelContractParser.Parse(metadata)).Problems,
            p => p == "'nfc.keypoint_score' must be logit or probability, got 'softmax'");
    }

    [Theory]
    [InlineData("Infinity")]
    [InlineData("1e999")]
    [InlineData("0")]
    [InlineData("NaN")]
    public void A_trained_scale_that_is_not_a_positive_finite_number_is_refused(string value)
    {
        var metadata = ValidDense();
        metadata["nfc.input.um_per_px"] = value;
        Assert.Contains(Assert.Throws<ModelContractException>(() => ModelContractParser.Parse(metadata)).Problems,
            p => p == $"'nfc.input.um_per_px' must be a positive number, got '{value}'");
    }
}
