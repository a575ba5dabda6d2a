namespace NfcPipeline.OnnxRuntime;

/// <summary>Provider names as ONNX Runtime spells them, and parsing of the pipeline's device setting.</summary>
public static class ExecutionProviders
{
    public const string Cpu = "CPUExecutionProvider";
    public const string Cuda = "CUDAExecutionProvider";

    /// <summary>The device setting that picks one: the GPU where there is one, the CPU otherwise.</summary>
    public const string Auto = "auto";

    /// <summary>
    /// The device for a setting: "auto" becomes "cuda" (device 0) where CUDA can run: the host has an NVIDIA GPU and the
    /// loaded ORT has its CUDA provider beside it (<paramref name="cudaUsable"/>; by default <see cref="CudaUsable"/>), and
    /// the build lists it (<paramref name="availableProviders"/>); else "cpu". Any other setting is checked and returned
    /// as it is. Decided before the session, so a host where CUDA cannot run gets the CPU's run plan: the CPU builds list
    /// CUDA too, and a session that fell back from CUDA runs one run at a time with ORT's own threads.
    /// </summary>
    public static string ResolveDevice(string device, Func<IEnumerable<string>> availableProviders, Func<bool>? cudaUsable = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!IsAuto(device))
        {
            ParseDevice(device);
            return device;
        }
        return (cudaUsable ?? CudaUsable)() && availableProviders().Contains(Cuda) ? "cuda" : "cpu";
    }

    /// <summary>
    /// The provider libraries CUDA needs beside libonnxruntime.so.1 (ORT loads them from its own folder): the CPU
    /// builds, npm's included, list CUDA without shipping them.
    /// </summary>
    public static readonly string[] CudaProviderLibraries = ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"];

    /// <summary>An NVIDIA GPU is shown to this process, and the loaded ORT has the CUDA provider libraries beside it.</summary>
    public static bool CudaUsable() =>
        NvidiaGpuPresent() && Path.GetDirectoryName(Native.OrtLibrary.Loaded.Path) is { } folder
        && CudaProviderLibraries.All(library => File.Exists(Path.Combine(folder, library)));

    /// <summary>Whether the NVIDIA driver shows a GPU to this process (a container started without one shows none).</summary>
    public static bool NvidiaGpuPresent()
    {
        try
        {
            return File.Exists("/dev/nvidia0")
                || Directory.Exists("/proc/driver/nvidia/gpus") && Directory.EnumerateDirectories("/proc/driver/nvidia/gpus").Any();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static bool IsAuto(string device) => string.Equals(device?.Trim(), Auto, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Parses "cpu", "cuda" or "cuda:N" (case-insensitive). Returns the CUDA device number, or null for the CPU.
    /// "auto" is resolved first (<see cref="ResolveDevice"/>).
    /// </summary>
    public static int? ParseDevice(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var text = device.Trim().ToLowerInvariant();
        if (text == Auto) throw new ArgumentException("The device 'auto' is resolved to cpu or cuda before it is parsed.", nameof(device));
        if (text == "cpu") return null;
        if (text == "cuda") return 0;
        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
            return id;
        throw new ArgumentException($"Unknown device '{device}': use auto, cpu, cuda or cuda:N.", nameof(device));
    }
}
