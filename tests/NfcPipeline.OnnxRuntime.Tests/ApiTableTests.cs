using NfcPipeline.OnnxRuntime.Native;

namespace NfcPipeline.OnnxRuntime.Tests;

/// <summary>
/// Calls table entries whose effect is observable, so that a miscounted index in <see cref="OrtApi"/> fails here
/// (the rest are exercised by every session the other tests build and run).
/// </summary>
public sealed unsafe class ApiTableTests
{
    [Fact]
    public void Status_entries_carry_code_and_message_into_the_exception()
    {
        var api = OrtLibrary.Api;
        nint status;
        fixed (byte* message = NativeText.ToUtf8("made by the test"))
            status = api.CreateStatus((int)OrtErrorCode.NotImplemented, message);

        var ex = NativeStatus.ToExceptionOrNull(status);

        Assert.NotNull(ex);
        Assert.Equal(OrtErrorCode.NotImplemented, ex.ErrorCode);
        Assert.Equal("made by the test", ex.OrtMessage);
        Assert.Null(NativeStatus.ToExceptionOrNull(0));
    }

    [Fact]
    public void Every_session_option_setter_is_accepted()
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = 2,
            InterOpNumThreads = 2,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC,
            ExecutionMode = ExecutionMode.ORT_PARALLEL,
            EnableMemoryPattern = false,
            EnableCpuMemArena = false,
            AllowIntraOpSpinning = true,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        options.AddFreeDimensionOverrideByName("batch", 2);

        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"), options);
        using var a = Fixtures.Tensor(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var outputs = session.Run(null, ["a", "b"], [a, a], ["product"]);

        Assert.Equal([1f, 4, 9, 16, 25, 36], outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void Invalid_graph_optimization_level_is_refused_by_its_own_entry()
    {
        var options = new SessionOptions { GraphOptimizationLevel = (GraphOptimizationLevel)5 };

        var ex = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(Fixtures.Path("add_mul.onnx"), options));

        Assert.Equal(OrtErrorCode.InvalidArgument, ex.ErrorCode);
        Assert.Contains("graph_optimization_level", ex.OrtMessage);
    }

    [Fact]
    public void Session_config_entries_reach_the_session()
    {
        // Demanding the ORT flatbuffer format makes an .onnx file unloadable, which proves the entry arrived.
        var options = new SessionOptions();
        options.AddSessionConfigEntry("session.load_model_format", "ORT");

        var ex = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(Fixtures.Path("add_mul.onnx"), options));

        Assert.NotEqual(OrtErrorCode.Ok, ex.ErrorCode);
    }

    [Fact]
    public void Free_dimension_override_fixes_the_batch_size()
    {
        var options = new SessionOptions();
        options.AddFreeDimensionOverrideByName("batch", 1);
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"), options);
        using var a = Fixtures.Tensor(new float[6], 2, 3);

        Assert.Equal([1, 3], session.InputMetadata["a"].Dimensions);
        Assert.Throws<OnnxRuntimeException>(() => session.Run(null, ["a", "b"], [a, a]));
    }

    [Fact]
    public void Run_options_keep_their_tag_and_level_and_terminate_a_run()
    {
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"));
        using var a = Fixtures.Tensor(new float[3], 1, 3);
        using var runOptions = new RunOptions { LogId = "run-42", LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };

        Assert.Equal("run-42", runOptions.LogId);
        Assert.Equal(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, runOptions.LogSeverityLevel);
        using (session.Run(runOptions, ["a", "b"], [a, a])) { }

        runOptions.Terminate = true;
        var ex = Assert.Throws<OnnxRuntimeException>(() => session.Run(runOptions, ["a", "b"], [a, a]));
        Assert.Contains("terminate", ex.OrtMessage, StringComparison.OrdinalIgnoreCase);

        runOptions.Terminate = false;
        using var outputs = session.Run(runOptions, ["a", "b"], [a, a]);
        Assert.Equal(2, outputs.Count);
    }

    [Fact]
    public void Cuda_provider_option_entries_are_where_the_table_says()
    {
        OrtEnv.Instance(); // appending a provider logs through the environment's logger
        var api = OrtLibrary.Api;
        nint raw;
        NativeStatus.Check(api.CreateCUDAProviderOptions(&raw));
        using var empty = new NativeHandle(raw, api.ReleaseCUDAProviderOptions);
        Assert.NotEqual(0, raw);

        try
        {
            using var filled = CudaProviderOptions.Create(new CudaExecutionProviderOptions { GpuMemLimitBytes = 1 << 30 });
            Assert.Contains("gpu_mem_limit=1073741824", CudaProviderOptions.Describe(filled));
        }
        catch (OnnxRuntimeException ex)
        {
            // This machine's build lists CUDA but lacks the provider bridge; Update says so.
            Assert.Equal(OrtErrorCode.Fail, ex.ErrorCode);
            Assert.Contains("libonnxruntime_providers_shared.so", ex.OrtMessage);
        }

        nint sessionOptions;
        NativeStatus.Check(api.CreateSessionOptions(&sessionOptions));
        using var ownedSessionOptions = new NativeHandle(sessionOptions, api.ReleaseSessionOptions);
        var appendError = NativeStatus.ToExceptionOrNull(api.SessionOptionsAppendExecutionProvider_CUDA_V2(sessionOptions, raw));
        if (appendError is not null) Assert.Contains("Failed to load", appendError.OrtMessage);
    }
}
