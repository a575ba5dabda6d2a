namespace NfcPipeline.OnnxRuntime.Tests;

public sealed class ErrorTests
{
    [Fact]
    public void Missing_model_file_raises_NoSuchFile_naming_the_path()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.onnx");

        var ex = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(missing));

        Assert.Equal(OrtErrorCode.NoSuchFile, ex.ErrorCode);
        Assert.Contains(missing, ex.OrtMessage);
        Assert.StartsWith("[ErrorCode:NoSuchFile]", ex.Message);
    }

    [Fact]
    public void Corrupt_model_file_raises_InvalidProtobuf()
    {
        var ex = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(Fixtures.Path("corrupt.onnx")));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, ex.ErrorCode);
        Assert.Contains("corrupt.onnx", ex.OrtMessage);
    }

    [Fact]
    public void Unknown_input_name_raises_InvalidArgument_naming_it()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        using var a = Fixtures.Tensor(new float[3], 1, 3);
        using var b = Fixtures.Tensor(new float[3], 1, 3);

        var ex = Assert.Throws<OnnxRuntimeException>(() => session.Run(null, ["a", "typo"], [a, b]));

        Assert.Equal(OrtErrorCode.InvalidArgument, ex.ErrorCode);
        Assert.Contains("typo", ex.OrtMessage);
    }

    [Fact]
    public void Input_of_the_wrong_element_type_raises_InvalidArgument()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        using var a = Fixtures.Tensor(new double[3], 1, 3);
        using var b = Fixtures.Tensor(new float[3], 1, 3);

        var ex = Assert.Throws<OnnxRuntimeException>(() => session.Run(null, ["a", "b"], [a, b]));

        Assert.Equal(OrtErrorCode.InvalidArgument, ex.ErrorCode);
    }

    [Fact]
    public void Input_of_the_wrong_shape_raises_InvalidArgument()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        using var a = Fixtures.Tensor(new float[4], 1, 4);
        using var b = Fixtures.Tensor(new float[4], 1, 4);

        var ex = Assert.Throws<OnnxRuntimeException>(() => session.Run(null, ["a", "b"], [a, b]));

        Assert.Equal(OrtErrorCode.InvalidArgument, ex.ErrorCode);
    }

    [Fact]
    public void Run_after_dispose_is_refused()
    {
        var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        using var a = Fixtures.Tensor(new float[3], 1, 3);
        using var b = Fixtures.Tensor(new float[3], 1, 3);
        session.Dispose();

        Assert.Throws<ObjectDisposedException>(() => session.Run(null, ["a", "b"], [a, b]));
    }

    [Fact]
    public void An_output_over_int_MaxValue_elements_is_refused_as_an_OnnxRuntimeException_so_a_batch_falls_back()
    {
        Assert.Equal(int.MaxValue, OrtValue.SpanLength(int.MaxValue));
        var ex = Assert.Throws<TensorTooLargeException>(() => OrtValue.SpanLength(int.MaxValue + 1L));
        Assert.IsAssignableFrom<OnnxRuntimeException>(ex);   // DenseBatchExecutor and InstancesBatchExecutor catch that
        Assert.Equal(int.MaxValue + 1L, ex.ElementCount);
        Assert.Contains("2147483648 elements", ex.Message);
    }
}
