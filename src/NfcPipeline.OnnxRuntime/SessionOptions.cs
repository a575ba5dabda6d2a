namespace NfcPipeline.OnnxRuntime;

/// <summary>
/// How a session is built. Unlike the official package, this holds settings only: each
/// <see cref="InferenceSession"/> builds its native OrtSessionOptions from them and releases it once the session
/// exists, which lets a session retry on the CPU when the CUDA provider cannot start. One instance can serve many sessions.
/// </summary>
public sealed class SessionOptions
{
    /// <summary>Session config key that lets intra-op pool threads spin while idle.</summary>
    public const string IntraOpAllowSpinningKey = "session.intra_op.allow_spinning";

    /// <summary>Session config key that lets inter-op pool threads spin while idle.</summary>
    public const string InterOpAllowSpinningKey = "session.inter_op.allow_spinning";

    private readonly Dictionary<string, string> _configEntries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _freeDimensionOverrides = new(StringComparer.Ordinal);

    /// <summary>Threads within one operator; 0 lets ORT choose (one per core).</summary>
    public int IntraOpNumThreads { get; set; }

    /// <summary>Threads across operators in parallel mode; 0 lets ORT choose.</summary>
    public int InterOpNumThreads { get; set; }

    public GraphOptimizationLevel GraphOptimizationLevel { get; set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    public ExecutionMode ExecutionMode { get; set; } = ExecutionMode.ORT_SEQUENTIAL;

    public bool EnableMemoryPattern { get; set; } = true;

    public bool EnableCpuMemArena { get; set; } = true;

    /// <summary>
    /// Off by default: spinning threads burn CPU between runs, which starves the rest of a worker (decoding, database)
    /// on small machines.
    /// </summary>
    public bool AllowIntraOpSpinning { get; set; }

    /// <summary>Off by default, for the same reason as <see cref="AllowIntraOpSpinning"/>.</summary>
    public bool AllowInterOpSpinning { get; set; }

    /// <summary>
    /// When set, ORT records every operator's time and writes them as a Chrome trace to PREFIX_&lt;timestamp&gt;.json
    /// (<see cref="InferenceSession.EndProfiling"/>, or when the session is released). For tuning: it slows each run.
    /// </summary>
    public string? ProfileFilePrefix { get; set; }

    public OrtLoggingLevel LogSeverityLevel { get; set; } = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING;

    /// <summary>
    /// When the CUDA provider cannot be used, run on the CPU and log one warning (true, the default), or fail with
    /// the <see cref="OnnxRuntimeException"/> (false).
    /// </summary>
    public bool FallbackToCpu { get; set; } = true;

    /// <summary>The CUDA provider settings, or null to run on the CPU.</summary>
    public CudaExecutionProviderOptions? Cuda { get; private set; }

    /// <summary>Free-form session config entries, applied after the settings above so they can override them.</summary>
    public IReadOnlyDictionary<string, string> ConfigEntries => _configEntries;

    public IReadOnlyDictionary<string, long> FreeDimensionOverrides => _freeDimensionOverrides;

    /// <summary>Adds or replaces a session config entry (keys as in onnxruntime_session_options_config_keys.h).</summary>
    public void AddSessionConfigEntry(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        _configEntries[key] = value;
    }

    /// <summary>Fixes a symbolic dimension (e.g. "batch") to a value, which lets ORT plan memory ahead.</summary>
    public void AddFreeDimensionOverrideByName(string dimensionName, long value)
    {
        ArgumentException.ThrowIfNullOrEmpty(dimensionName);
        _freeDimensionOverrides[dimensionName] = value;
    }

    /// <summary>Runs on the CPU only (drops a CUDA request made before).</summary>
    public void AppendExecutionProvider_CPU() => Cuda = null;

    /// <summary>Asks for the CUDA provider on <paramref name="deviceId"/>, with the CPU behind it for unsupported operators.</summary>
    public void AppendExecutionProvider_CUDA(int deviceId = 0) =>
        AppendExecutionProvider_CUDA(new CudaExecutionProviderOptions { DeviceId = deviceId });

    public void AppendExecutionProvider_CUDA(CudaExecutionProviderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.DeviceId);
        // Refused here: ORT refuses them only when the provider is set up, and with FallbackToCpu a typo ran on the CPU
        // as if the host had no GPU.
        if (options.GpuMemLimitBytes is <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"GpuMemLimitBytes must be positive, or null for no limit; got {options.GpuMemLimitBytes}.");
        foreach (var (key, value) in options.AdditionalOptions)
            if (string.IsNullOrWhiteSpace(key) || string.IsNullOrWhiteSpace(value))
                throw new ArgumentException($"CUDA provider option '{key}' needs a key and a value; got '{key}'='{value}'.", nameof(options));
        Cuda = options;
    }

    /// <summary>Applies the pipeline's device setting: "auto", "cpu", "cuda" or "cuda:N".</summary>
    public void UseDevice(string device)
    {
        device = ExecutionProviders.ResolveDevice(device, () => OrtEnv.Instance().GetAvailableProviders());
        if (ExecutionProviders.ParseDevice(device) is { } deviceId)
            AppendExecutionProvider_CUDA((Cuda ?? new CudaExecutionProviderOptions()) with { DeviceId = deviceId });
        else
            AppendExecutionProvider_CPU();
    }
}
