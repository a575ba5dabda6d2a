using Microsoft.Extensions.Logging;

namespace NfcPipeline.OnnxRuntime.Tests;

/// <summary>
/// This machine's ONNX Runtime lists CUDA but lacks its provider libraries ("Failed to load library
/// libonnxruntime_providers_shared.so"), so asking for CUDA always falls back here.
/// </summary>
public sealed class ExecutionProviderTests
{
    [Fact]
    public void Asking_for_cuda_falls_back_to_cpu_with_the_reason_and_one_warning()
    {
        var logger = new RecordingLogger();
        var options = new SessionOptions();
        options.AppendExecutionProvider_CUDA(new CudaExecutionProviderOptions
        {
            DeviceId = 0,
            CudnnConvAlgoSearch = CudnnConvAlgoSearch.Heuristic,
            ArenaExtendStrategy = ArenaExtendStrategy.SameAsRequested,
            GpuMemLimitBytes = 2L << 30,
        });

        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"), options, logger);

        Assert.Equal(ExecutionProviders.Cpu, session.ActiveProvider);
        Assert.NotNull(session.ProviderFallbackReason);
        Assert.Contains("Failed to load", session.ProviderFallbackReason);
        var warning = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("CUDA execution provider", warning.Message);
        Assert.Contains(session.ProviderFallbackReason, warning.Message);

        using var a = Fixtures.Tensor(new float[] { 1, 2, 3 }, 1, 3);
        using var b = Fixtures.Tensor(new float[] { 4, 5, 6 }, 1, 3);
        using var outputs = session.Run(null, ["a", "b"], [a, b], ["sum"]);
        Assert.Equal([5f, 7, 9], outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void Device_setting_cuda_n_selects_that_device_and_falls_back_the_same_way()
    {
        var options = new SessionOptions();
        options.UseDevice("cuda:1");

        using var session = new InferenceSession(Fixtures.Path("conv.onnx"), options);

        Assert.Equal(1, options.Cuda!.DeviceId);
        Assert.Equal(ExecutionProviders.Cpu, session.ActiveProvider);
        Assert.NotNull(session.ProviderFallbackReason);
    }

    [Fact]
    public void Auto_picks_cuda_only_where_the_build_carries_it()
    {
        // The GPU when there is one, the CPU otherwise: the default device was "cpu", so a GPU host ran on its CPU.
        string[] both = [ExecutionProviders.Cuda, ExecutionProviders.Cpu];
        Assert.Equal("cuda", ExecutionProviders.ResolveDevice("auto", () => both, cudaUsable: () => true));
        Assert.Equal("cpu", ExecutionProviders.ResolveDevice("auto", () => both, cudaUsable: () => false));   // the CPU builds list CUDA too
        Assert.Equal("cpu", ExecutionProviders.ResolveDevice(" Auto ", () => [ExecutionProviders.Cpu], cudaUsable: () => true));
        Assert.Equal("cuda:1", ExecutionProviders.ResolveDevice("cuda:1", () => throw new InvalidOperationException("not asked")));
        Assert.Throws<ArgumentException>(() => ExecutionProviders.ResolveDevice("gpu", () => []));

        // Where CUDA cannot run (no GPU, or, as here, a CPU build without the CUDA provider libraries) auto is a CPU
        // session, with no fallback to report.
        var options = new SessionOptions();
        options.UseDevice("auto");
        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"), options);
        Assert.Equal(ExecutionProviders.CudaUsable() && OrtEnv.Instance().GetAvailableProviders().Contains(ExecutionProviders.Cuda),
            options.Cuda is not null);
        if (options.Cuda is null)
            Assert.Equal((ExecutionProviders.Cpu, (string?)null), (session.ActiveProvider, session.ProviderFallbackReason));
    }

    [Fact]
    public void Cuda_settings_ort_would_refuse_are_refused_when_given_not_taken_for_a_host_without_a_gpu()
    {
        var options = new SessionOptions();
        Assert.Contains("GpuMemLimitBytes must be positive", Assert.Throws<ArgumentOutOfRangeException>(
            () => options.AppendExecutionProvider_CUDA(new CudaExecutionProviderOptions { GpuMemLimitBytes = -1 })).Message);
        foreach (var (key, value) in new[] { ("", "1"), ("gpu_mem_limit", ""), (" ", " ") })
            Assert.Throws<ArgumentException>(() => options.AppendExecutionProvider_CUDA(
                new CudaExecutionProviderOptions { AdditionalOptions = new Dictionary<string, string> { [key] = value } }));
        Assert.Null(options.Cuda);   // nothing half taken
    }

    [Fact]
    public void A_model_file_ort_cannot_read_is_said_as_it_is_when_cuda_was_asked_for()
    {
        // Here CUDA's libraries are missing, so the CPU session says it; on a GPU host the CUDA session's own error is
        // not taken for a provider failure: the rule below decides.
        var options = new SessionOptions();
        options.AppendExecutionProvider_CUDA();
        var missing = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(Path.Combine(Path.GetTempPath(), "nfc-no-such-model.onnx"), options));
        Assert.Equal(OrtErrorCode.NoSuchFile, missing.ErrorCode);
        Assert.True(InferenceSession.IsModelFileError(missing));

        foreach (var code in new[] { OrtErrorCode.NoModel, OrtErrorCode.InvalidProtobuf, OrtErrorCode.InvalidGraph })
            Assert.True(InferenceSession.IsModelFileError(new OnnxRuntimeException(code, "the file")));
        // A provider that cannot start (no device, a driver too old) falls back.
        foreach (var code in new[] { OrtErrorCode.Fail, OrtErrorCode.EpFail, OrtErrorCode.RuntimeException, OrtErrorCode.InvalidArgument })
            Assert.False(InferenceSession.IsModelFileError(new OnnxRuntimeException(code, "the provider")));
    }

    [Fact]
    public void Without_fallback_a_cuda_failure_is_an_error()
    {
        var options = new SessionOptions { FallbackToCpu = false };
        options.AppendExecutionProvider_CUDA();

        var ex = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(Fixtures.Path("add_mul.onnx"), options));

        Assert.Contains("Failed to load", ex.OrtMessage);
    }

    [Fact]
    public void Cpu_sessions_report_the_cpu_provider_and_no_fallback()
    {
        var logger = new RecordingLogger();
        var options = new SessionOptions();
        options.UseDevice("cuda");
        options.UseDevice("cpu");

        using var session = new InferenceSession(Fixtures.Path("add_mul.onnx"), options, logger);

        Assert.Null(options.Cuda);
        Assert.Equal(ExecutionProviders.Cpu, session.ActiveProvider);
        Assert.Null(session.ProviderFallbackReason);
        Assert.Empty(logger.Entries);
    }

    [Theory]
    [InlineData("cpu", null)]
    [InlineData("CPU", null)]
    [InlineData("cuda", 0)]
    [InlineData("cuda:0", 0)]
    [InlineData(" cuda:3 ", 3)]
    public void Device_strings_parse(string device, int? expected)
    {
        Assert.Equal(expected, ExecutionProviders.ParseDevice(device));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    public void Unknown_device_strings_are_rejected(string device)
    {
        Assert.Throws<ArgumentException>(() => ExecutionProviders.ParseDevice(device));
    }

    [Fact]
    public void Cuda_options_become_the_provider_option_strings()
    {
        var options = new CudaExecutionProviderOptions
        {
            DeviceId = 2,
            CudnnConvAlgoSearch = CudnnConvAlgoSearch.Default,
            ArenaExtendStrategy = ArenaExtendStrategy.SameAsRequested,
            GpuMemLimitBytes = 1234,
            AdditionalOptions = new Dictionary<string, string> { ["do_copy_in_default_stream"] = "1" },
        }.ToProviderOptions();

        Assert.Equal("2", options["device_id"]);
        Assert.Equal("DEFAULT", options["cudnn_conv_algo_search"]);
        Assert.Equal("kSameAsRequested", options["arena_extend_strategy"]);
        Assert.Equal("1234", options["gpu_mem_limit"]);
        Assert.Equal("1", options["do_copy_in_default_stream"]);
    }
}
