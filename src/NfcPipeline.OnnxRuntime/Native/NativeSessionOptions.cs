namespace NfcPipeline.OnnxRuntime.Native;

/// <summary>Builds a native OrtSessionOptions from <see cref="SessionOptions"/>.</summary>
internal static unsafe class NativeSessionOptions
{
    /// <summary>
    /// Creates the native options. With <paramref name="withCuda"/>, appends the CUDA provider; if ORT refuses it,
    /// the options are still returned (CPU only) and <paramref name="cudaFailure"/> holds ORT's error.
    /// </summary>
    public static NativeHandle Build(SessionOptions options, bool withCuda, out OnnxRuntimeException? cudaFailure)
    {
        var api = OrtLibrary.Api;
        nint raw;
        NativeStatus.Check(api.CreateSessionOptions(&raw));
        var handle = new NativeHandle(raw, api.ReleaseSessionOptions);
        try
        {
            NativeStatus.Check(api.SetIntraOpNumThreads(raw, options.IntraOpNumThreads));
            NativeStatus.Check(api.SetInterOpNumThreads(raw, options.InterOpNumThreads));
            NativeStatus.Check(api.SetSessionGraphOptimizationLevel(raw, (int)options.GraphOptimizationLevel));
            NativeStatus.Check(api.SetSessionExecutionMode(raw, (int)options.ExecutionMode));
            NativeStatus.Check(options.EnableMemoryPattern ? api.EnableMemPattern(raw) : api.DisableMemPattern(raw));
            NativeStatus.Check(options.EnableCpuMemArena ? api.EnableCpuMemArena(raw) : api.DisableCpuMemArena(raw));
            NativeStatus.Check(api.SetSessionLogSeverityLevel(raw, (int)options.LogSeverityLevel));
            if (options.ProfileFilePrefix is { Length: > 0 } prefix)
            {
                fixed (byte* p = NativeText.ToUtf8(prefix)) NativeStatus.Check(api.EnableProfiling(raw, p));
            }
            AddConfigEntry(raw, SessionOptions.IntraOpAllowSpinningKey, options.AllowIntraOpSpinning ? "1" : "0");
            AddConfigEntry(raw, SessionOptions.InterOpAllowSpinningKey, options.AllowInterOpSpinning ? "1" : "0");
            foreach (var (key, value) in options.ConfigEntries) AddConfigEntry(raw, key, value);
            foreach (var (name, value) in options.FreeDimensionOverrides)
            {
                fixed (byte* dimension = NativeText.ToUtf8(name))
                    NativeStatus.Check(api.AddFreeDimensionOverrideByName(raw, dimension, value));
            }

            cudaFailure = withCuda && options.Cuda is { } cuda ? TryAppendCuda(raw, cuda) : null;
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void AddConfigEntry(nint options, string key, string value)
    {
        fixed (byte* k = NativeText.ToUtf8(key))
        fixed (byte* v = NativeText.ToUtf8(value))
            NativeStatus.Check(OrtLibrary.Api.AddSessionConfigEntry(options, k, v));
    }

    private static OnnxRuntimeException? TryAppendCuda(nint sessionOptions, CudaExecutionProviderOptions cuda)
    {
        try
        {
            using var providerOptions = CudaProviderOptions.Create(cuda);
            using var lease = providerOptions.Acquire();
            return NativeStatus.ToExceptionOrNull(
                OrtLibrary.Api.SessionOptionsAppendExecutionProvider_CUDA_V2(sessionOptions, lease.Pointer));
        }
        catch (OnnxRuntimeException ex)
        {
            return ex;
        }
    }
}

/// <summary>The opaque OrtCUDAProviderOptionsV2, filled from <see cref="CudaExecutionProviderOptions"/>.</summary>
internal static unsafe class CudaProviderOptions
{
    public static NativeHandle Create(CudaExecutionProviderOptions cuda)
    {
        // Before the native options exist: options that cannot be turned into pairs leave nothing to release.
        var pairs = cuda.ToProviderOptions().ToArray();
        var api = OrtLibrary.Api;
        nint raw;
        NativeStatus.Check(api.CreateCUDAProviderOptions(&raw));
        var handle = new NativeHandle(raw, api.ReleaseCUDAProviderOptions);
        var keys = new nint[pairs.Length];
        var values = new nint[pairs.Length];
        try
        {
            for (int i = 0; i < pairs.Length; i++)
            {
                keys[i] = NativeText.Allocate(pairs[i].Key);
                values[i] = NativeText.Allocate(pairs[i].Value);
            }
            fixed (nint* k = keys)
            fixed (nint* v = values)
                NativeStatus.Check(api.UpdateCUDAProviderOptions(raw, (byte**)k, (byte**)v, (nuint)pairs.Length));
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        finally
        {
            foreach (var p in keys) if (p != 0) NativeText.Free(p);
            foreach (var p in values) if (p != 0) NativeText.Free(p);
        }
    }

    /// <summary>The options as ORT serialises them ("device_id=0;..."); needs the CUDA provider library.</summary>
    public static string Describe(NativeHandle options)
    {
        var allocator = NativeText.DefaultAllocator;
        byte* text;
        using var lease = options.Acquire();
        NativeStatus.Check(OrtLibrary.Api.GetCUDAProviderOptionsAsString(lease.Pointer, allocator, &text));
        return NativeText.TakeAllocated(text, allocator);
    }
}
