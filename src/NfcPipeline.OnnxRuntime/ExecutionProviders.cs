namespace NfcPipeline.OnnxRuntime;

/// <summary>Provider names as ONNX Runtime spells them, and parsing of the pipeline's device setting.</summary>
public static class ExecutionProviders
{
    public const string Cpu = "CPUExecutionProvider";
    public const string Cuda = "CUDAExecutionProvider";

    /// <summary>
    /// Parses "cpu", "cuda" or "cuda:N" (case-insensitive). Returns the CUDA device number, or null for the CPU.
    /// </summary>
    public static int? ParseDevice(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var text = device.Trim().ToLowerInvariant();
        if (text == "cpu") return null;
        if (text == "cuda") return 0;
        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
            return id;
        throw new ArgumentException($"Unknown device '{device}': use cpu, cuda or cuda:N.", nameof(device));
    }
}
