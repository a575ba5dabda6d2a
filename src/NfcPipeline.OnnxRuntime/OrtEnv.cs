using NfcPipeline.OnnxRuntime.Native;

namespace NfcPipeline.OnnxRuntime;

/// <summary>How the process-wide <see cref="OrtEnv"/> is made; only the first creation in a process applies.</summary>
public sealed record EnvironmentCreationOptions
{
    /// <summary>Path of libonnxruntime.so.1; null resolves it through <see cref="OrtLibraryResolver"/>.</summary>
    public string? LibraryPath { get; init; }

    public string LogId { get; init; } = "NfcPipeline";

    public OrtLoggingLevel LogLevel { get; init; } = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING;
}

/// <summary>
/// The one ONNX Runtime environment of the process (OrtEnv). Created lazily on first use and kept for the life of the
/// process, because every session depends on it and ORT forbids a second one.
/// </summary>
public sealed unsafe class OrtEnv
{
    private static readonly object Gate = new();
    private static volatile OrtEnv? _instance;

    private readonly NativeHandle _handle;

    private OrtEnv(EnvironmentCreationOptions options)
    {
        var library = OrtLibrary.Load(options.LibraryPath);
        LibraryPath = library.Path;
        Version = library.Version;
        nint env;
        fixed (byte* logId = NativeText.ToUtf8(options.LogId))
            NativeStatus.Check(library.Api.CreateEnv((int)options.LogLevel, logId, &env));
        _handle = new NativeHandle(env, library.Api.ReleaseEnv);
    }

    /// <summary>The environment, created with default options (library found by <see cref="OrtLibraryResolver"/>).</summary>
    public static OrtEnv Instance() => _instance ?? CreateInstanceWithOptions(new EnvironmentCreationOptions());

    /// <summary>
    /// Creates the environment with these options, or returns the existing one. Naming a different library once one
    /// is loaded throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public static OrtEnv CreateInstanceWithOptions(EnvironmentCreationOptions options)
    {
        lock (Gate)
        {
            if (_instance is { } existing)
            {
                if (options.LibraryPath is not null) OrtLibrary.Load(options.LibraryPath);
                return existing;
            }
            _instance = new OrtEnv(options);
            return _instance;
        }
    }

    /// <summary>The full path of the loaded libonnxruntime.so.1.</summary>
    public string LibraryPath { get; }

    /// <summary>The library's version string, e.g. "1.23.2".</summary>
    public string Version { get; }

    public string GetVersionString() => Version;

    internal NativeHandle Handle => _handle;

    /// <summary>
    /// The execution providers this build of ONNX Runtime was compiled with. A listed provider may still fail to load
    /// (CUDA without its provider library or drivers); sessions then fall back to the CPU.
    /// </summary>
    public string[] GetAvailableProviders()
    {
        var api = OrtLibrary.Api;
        byte** names;
        int count;
        NativeStatus.Check(api.GetAvailableProviders(&names, &count));
        try
        {
            var result = new string[count];
            for (int i = 0; i < count; i++) result[i] = NativeText.FromUtf8(names[i]) ?? string.Empty;
            return result;
        }
        finally
        {
            NativeStatus.ReleaseQuietly(api.ReleaseAvailableProviders(names, count));
        }
    }
}
