namespace NfcPipeline.OnnxRuntime.Tests;

/// <summary>ORT's profiler through the binding (table entries EnableProfiling and SessionEndProfiling) and its trace reader.</summary>
public sealed class OrtProfileTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("nfc-ort-profile-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void A_profiled_session_writes_every_run_and_kernel_to_a_trace_under_its_prefix()
    {
        var prefix = Path.Combine(_folder.FullName, "add-mul");
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"), new SessionOptions { ProfileFilePrefix = prefix });
        using var a = Fixtures.Tensor(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        for (int i = 0; i < 3; i++)
        {
            using var outputs = session.Run(null, ["a", "b"], [a, a], ["sum", "product"]);
        }

        var trace = session.EndProfiling();

        Assert.StartsWith(prefix + "_", trace);
        Assert.EndsWith(".json", trace);
        var profile = OrtProfile.Read(trace);
        Assert.Equal(3, profile.Runs);
        Assert.Equal(["Add", "Mul"], profile.Operators.Select(o => o.OpType).Order(StringComparer.Ordinal));
        Assert.All(profile.Operators, o => Assert.Equal(3, o.Calls));
        Assert.True(profile.RunTime >= profile.KernelTime, $"runs {profile.RunTime} < kernels {profile.KernelTime}");
    }

    [Fact]
    public void Without_a_prefix_nothing_is_profiled_and_no_trace_is_named()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"), new SessionOptions());

        Assert.Equal("", session.EndProfiling());
    }

    [Fact]
    public void The_reader_sums_kernel_time_by_operator_type_and_ignores_other_events()
    {
        var path = Path.Combine(_folder.FullName, "trace.json");
        File.WriteAllText(path, """
            [
              {"cat": "Session", "name": "model_loading_uri", "dur": 900},
              {"cat": "Session", "name": "model_run", "dur": 100},
              {"cat": "Node", "name": "conv1_kernel_time", "dur": 40, "args": {"op_name": "QLinearConv"}},
              {"cat": "Node", "name": "conv1_fence_before", "dur": 5, "args": {"op_name": "QLinearConv"}},
              {"cat": "Node", "name": "conv2_kernel_time", "dur": 20, "args": {"op_name": "QLinearConv"}},
              {"cat": "Node", "name": "up_kernel_time", "dur": 30, "args": {"op_name": "Resize"}},
              {"cat": "Session", "name": "model_run", "dur": 110},
              {"cat": "Node", "name": "conv1_kernel_time", "dur": 44, "args": {"op_name": "QLinearConv"}},
              {"cat": "Node", "name": "up_kernel_time", "dur": 31, "args": {"op_name": "Resize"}}
            ]
            """);

        var profile = OrtProfile.Read(path);

        Assert.Equal(2, profile.Runs);
        Assert.Equal(TimeSpan.FromMicroseconds(210), profile.RunTime);
        Assert.Equal(
            [new OperatorTime("QLinearConv", 2, 3, TimeSpan.FromMicroseconds(104)), new OperatorTime("Resize", 1, 2, TimeSpan.FromMicroseconds(61))],
            profile.Operators);
        Assert.Equal(TimeSpan.FromMicroseconds(165), profile.KernelTime);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"traceEvents": []}""")]
    public void A_file_that_is_not_a_trace_is_refused_by_name(string text)
    {
        var path = Path.Combine(_folder.FullName, "bad.json");
        File.WriteAllText(path, text);

        var ex = Assert.Throws<InvalidDataException>(() => OrtProfile.Read(path));

        Assert.Contains(path, ex.Message);
    }
}
