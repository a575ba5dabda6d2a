namespace NfcPipeline.OnnxRuntime.Tests;

public sealed class ModelInspectionTests
{
    [Fact]
    public void Inputs_and_outputs_have_names_types_and_symbolic_dimensions()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));

        Assert.Equal(["a", "b"], session.InputNames);
        Assert.Equal(["sum", "product"], session.OutputNames);
        var a = session.InputMetadata["a"];
        Assert.True(a.IsTensor);
        Assert.Equal(TensorElementType.Float, a.ElementDataType);
        Assert.Equal(typeof(float), a.ElementType);
        Assert.Equal([-1, 3], a.Dimensions);
        Assert.Equal([-1L, 3L], a.Shape);
        Assert.Equal(["batch", ""], a.SymbolicDimensions);
        Assert.Equal("a: Float[batch, 3]", a.ToString());
        Assert.Equal(["batch", ""], session.OutputMetadata["product"].SymbolicDimensions);
    }

    [Fact]
    public void Model_metadata_carries_producer_graph_version_descriptions_and_custom_map()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        var metadata = session.ModelMetadata;

        Assert.Equal("nfc-test-fixtures", metadata.ProducerName);
        Assert.Equal("add_mul", metadata.GraphName);
        Assert.Equal("Adds and multiplies two float tensors.", metadata.GraphDescription);
        Assert.Equal("Fixture for the ONNX Runtime binding tests.", metadata.Description);
        Assert.Equal("org.nfcpipeline.test", metadata.Domain);
        Assert.Equal(3, metadata.Version);
        Assert.Equal(3, metadata.CustomMetadataMap.Count);
        Assert.Equal("test/v1", metadata.CustomMetadataMap["nfc.contract"]);
        Assert.Equal("add-mul", metadata.CustomMetadataMap["nfc.model_name"]);
        Assert.Equal("µm", metadata.CustomMetadataMap["nfc.note"]);
    }

    [Fact]
    public void Model_without_custom_metadata_has_an_empty_map()
    {
        using var session = new InferenceSession(Fixtures.Path("conv.onnx"));

        Assert.Empty(session.ModelMetadata.CustomMetadataMap);
        Assert.Equal("conv", session.ModelMetadata.GraphName);
    }

    [Fact]
    public void Conv_model_has_dynamic_batch_height_and_width()
    {
        using var session = new InferenceSession(Fixtures.Path("conv.onnx"));

        var image = session.InputMetadata["image"];
        Assert.Equal([-1, 3, -1, -1], image.Dimensions);
        Assert.Equal(["N", "", "H", "W"], image.SymbolicDimensions);
        Assert.Equal(["N", "", "H", "W"], session.OutputMetadata["features"].SymbolicDimensions);
    }

    [Fact]
    public void Element_types_beyond_float_are_reported()
    {
        using var session = new InferenceSession(Fixtures.Path("mixed_types.onnx"));

        Assert.Equal(TensorElementType.Int64, session.InputMetadata["ids"].ElementDataType);
        Assert.Equal(TensorElementType.UInt8, session.InputMetadata["pixels"].ElementDataType);
        Assert.Equal(TensorElementType.Int32, session.InputMetadata["counts"].ElementDataType);
        Assert.Equal(TensorElementType.Bool, session.InputMetadata["flags"].ElementDataType);
        Assert.Equal(typeof(bool), session.InputMetadata["flags"].ElementType);
        Assert.Equal(TensorElementType.Float, session.OutputMetadata["pixels_float"].ElementDataType);
    }

    [Fact]
    public void A_fixed_dimension_past_the_32_bit_range_stays_fixed_not_dynamic()
    {
        // A crafted or mis-exported [N, 3, 2^31, W] read as [N, 3, dynamic, W]: the loader's fixed-size checks passed it.
        var meta = new NodeMetadata("image", OnnxValueType.ONNX_TYPE_TENSOR, TensorElementType.Float, [-1, 3, 2_147_483_648L, -1], ["N", "", "", "W"]);
        Assert.Equal([-1, 3, int.MaxValue, -1], meta.Dimensions);
        Assert.Equal(2_147_483_648L, meta.Shape[2]);
    }
}
