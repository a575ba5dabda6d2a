namespace NfcPipeline.OnnxRuntime;

public enum CudnnConvAlgoSearch
{
    /// <summary>Benchmarks every algorithm once per shape: fastest runs, slow first run per shape.</summary>
    Exhaustive,
    Heuristic,
    Default,
}

public enum ArenaExtendStrategy
{
    NextPowerOfTwo,
    SameAsRequested,
}

/// <summary>
/// Settings of the CUDA execution provider, passed to ORT as the provider option strings that
/// OrtCUDAProviderOptionsV2 takes (the official package's OrtCUDAProviderOptions.UpdateOptions takes the same keys).
/// </summary>
public sealed record CudaExecutionProviderOptions
{
    public int DeviceId { get; init; }

    public CudnnConvAlgoSearch CudnnConvAlgoSearch { get; init; } = CudnnConvAlgoSearch.Exhaustive;

    public ArenaExtendStrategy ArenaExtendStrategy { get; init; } = ArenaExtendStrategy.NextPowerOfTwo;

    /// <summary>Upper bound of the CUDA memory arena in bytes; null leaves ORT's default (no limit).</summary>
    public long? GpuMemLimitBytes { get; init; }

    /// <summary>Further provider options by their ORT key (e.g. "do_copy_in_default_stream"); they win over the above.</summary>
    public IReadOnlyDictionary<string, string> AdditionalOptions { get; init; } = new Dictionary<string, string>();

    /// <summary>The key/value pairs handed to UpdateCUDAProviderOptions.</summary>
    public IReadOnlyDictionary<string, string> ToProviderOptions()
    {
        var options = new Dictionary<string, string>
        {
            ["device_id"] = DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["cudnn_conv_algo_search"] = CudnnConvAlgoSearch switch
            {
                CudnnConvAlgoSearch.Heuristic => "HEURISTIC",
                CudnnConvAlgoSearch.Default => "DEFAULT",
                _ => "EXHAUSTIVE",
            },
            ["arena_extend_strategy"] = ArenaExtendStrategy == ArenaExtendStrategy.SameAsRequested ? "kSameAsRequested" : "kNextPowerOfTwo",
        };
        if (GpuMemLimitBytes is { } limit)
            options["gpu_mem_limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (key, value) in AdditionalOptions) options[key] = value;
        return options;
    }
}
