using Microsoft.Extensions.Logging;
using NfcPipeline.OnnxRuntime.Native;

namespace NfcPipeline.OnnxRuntime;

/// <summary>
/// A loaded model (OrtSession). <see cref="Run(RunOptions?, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string})"/>
/// may be called from many threads at once on one session: ORT's Run is thread-safe, and this class keeps no
/// per-run state of its own.
/// </summary>
public sealed unsafe partial class InferenceSession : IDisposable
{
    private readonly NativeHandle _session;
    // UTF-8 names on the pinned object heap: their addresses never move, and the GC frees them only once no Run can use them.
    private readonly Dictionary<string, byte[]> _utf8Names = new(StringComparer.Ordinal);

    public InferenceSession(string modelPath) : this(modelPath, null, null)
    {
    }

    /// <param name="modelPath">The .onnx file.</param>
    /// <param name="options">Settings; null means ORT's defaults with spinning off, on the CPU.</param>
    /// <param name="logger">Receives the one warning when the CUDA provider falls back to the CPU.</param>
    public InferenceSession(string modelPath, SessionOptions? options, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        options ??= new SessionOptions();
        var env = OrtEnv.Instance();
        ModelPath = modelPath;
        _session = Create(env, modelPath, options, out var activeProvider, out var fallbackReason);
        ActiveProvider = activeProvider;
        ProviderFallbackReason = fallbackReason;
        try
        {
            // Inside the try: a logger that throws must not leave the native session (and a GPU arena) to the finalizer.
            if (fallbackReason is not null)
            {
                logger?.LogWarning(
                    "The CUDA execution provider (device {DeviceId}) could not be used for {ModelPath}; running on {Provider}. ONNX Runtime said: {Reason}",
                    options.Cuda!.DeviceId, modelPath, activeProvider, fallbackReason);
            }
            using var session = _session.Acquire();
            var inputs = SessionIntrospection.ReadNodes(session.Pointer, inputs: true);
            var outputs = SessionIntrospection.ReadNodes(session.Pointer, inputs: false);
            InputNames = inputs.Select(n => n.Name).ToArray();
            OutputNames = outputs.Select(n => n.Name).ToArray();
            InputMetadata = inputs.ToDictionary(n => n.Name);
            OutputMetadata = outputs.ToDictionary(n => n.Name);
            ModelMetadata = SessionIntrospection.ReadModelMetadata(session.Pointer);
            foreach (var name in InputNames.Concat(OutputNames))
                _utf8Names.TryAdd(name, NativeText.ToPinnedUtf8(name));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string ModelPath { get; }

    /// <summary>"CUDAExecutionProvider" when CUDA was appended and the session started with it, else "CPUExecutionProvider".</summary>
    public string ActiveProvider { get; }

    /// <summary>ORT's reason when CUDA was asked for but the session runs on the CPU; null otherwise.</summary>
    public string? ProviderFallbackReason { get; }

    public IReadOnlyList<string> InputNames { get; }

    public IReadOnlyList<string> OutputNames { get; }

    public IReadOnlyDictionary<string, NodeMetadata> InputMetadata { get; }

    public IReadOnlyDictionary<string, NodeMetadata> OutputMetadata { get; }

    public ModelMetadata ModelMetadata { get; }

    /// <summary>
    /// Stops the profiling that <see cref="SessionOptions.ProfileFilePrefix"/> started, writes the trace and returns
    /// its path; runs after this are not recorded. Without a prefix ORT returns an empty path.
    /// </summary>
    public string EndProfiling()
    {
        using var session = _session.Acquire();
        var allocator = NativeText.DefaultAllocator;
        byte* path;
        NativeStatus.Check(OrtLibrary.Api.SessionEndProfiling(session.Pointer, allocator, &path));
        return NativeText.TakeAllocated(path, allocator);
    }

    /// <summary>Releases the native session once no Run on another thread still uses it.</summary>
    public void Dispose() => _session.Dispose();

    private static NativeHandle Create(OrtEnv env, string modelPath, SessionOptions options,
        out string activeProvider, out string? fallbackReason)
    {
        fallbackReason = null;
        bool withCuda = options.Cuda is not null;
        if (withCuda)
        {
            using var cudaOptions = NativeSessionOptions.Build(options, withCuda: true, out var appendFailure);
            if (appendFailure is null)
            {
                try
                {
                    activeProvider = ExecutionProviders.Cuda;
                    return CreateSession(env, modelPath, cudaOptions);
                }
                // A model ORT cannot read fails on the CPU alike: said as it is, not loaded a second time.
                catch (OnnxRuntimeException ex) when (options.FallbackToCpu && !IsModelFileError(ex))
                {
                    // The provider loaded but could not start (no device, driver too old): try the CPU.
                    fallbackReason = ex.OrtMessage;
                }
            }
            else if (options.FallbackToCpu)
            {
                fallbackReason = appendFailure.OrtMessage;
            }
            else
            {
                throw appendFailure;
            }
        }

        using var cpuOptions = NativeSessionOptions.Build(options, withCuda: false, out _);
        activeProvider = ExecutionProviders.Cpu;
        return CreateSession(env, modelPath, cpuOptions);
    }

    /// <summary>An error of the model file itself (missing, not ONNX, an invalid graph), which no other provider mends.</summary>
    internal static bool IsModelFileError(OnnxRuntimeException ex) =>
        ex.ErrorCode is OrtErrorCode.NoSuchFile or OrtErrorCode.NoModel or OrtErrorCode.InvalidProtobuf or OrtErrorCode.InvalidGraph;

    private static NativeHandle CreateSession(OrtEnv env, string modelPath, NativeHandle sessionOptions)
    {
        var api = OrtLibrary.Api;
        nint session;
        using (var envLease = env.Handle.Acquire())
        using (var optionsLease = sessionOptions.Acquire())
        fixed (byte* path = NativeText.ToUtf8(modelPath))
        {
            NativeStatus.Check(api.CreateSession(envLease.Pointer, path, optionsLease.Pointer, &session));
        }
        return new NativeHandle(session, api.ReleaseSession);
    }
}
