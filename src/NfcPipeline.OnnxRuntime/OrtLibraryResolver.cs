namespace NfcPipeline.OnnxRuntime;

/// <summary>
/// Finds libonnxruntime.so.1: an explicit path first (the app binds Inference:OnnxRuntimePath to it), then the
/// NFC_ORT_LIBRARY environment variable, then .local/native/libonnxruntime.so.1 in the current directory, the
/// application directory or any of their parents (so it works from the repository and from test output folders).
/// An explicit path or variable that names a missing file is an error, not a reason to look elsewhere.
/// </summary>
public static class OrtLibraryResolver
{
    public const string EnvironmentVariable = "NFC_ORT_LIBRARY";
    public const string DefaultRelativePath = ".local/native/libonnxruntime.so.1";
    public const string Fix = "run ops/native.sh or set NFC_ORT_LIBRARY to the path of libonnxruntime.so.1";

    public static string Resolve(string? explicitPath = null) =>
        Resolve(explicitPath, Environment.GetEnvironmentVariable(EnvironmentVariable),
            [Directory.GetCurrentDirectory(), AppContext.BaseDirectory]);

    public static string Resolve(string? explicitPath, string? environmentValue, IReadOnlyList<string> searchStarts)
    {
        if (!string.IsNullOrWhiteSpace(explicitPath))
            return Existing(explicitPath, "the configured path (Inference:OnnxRuntimePath)");
        if (!string.IsNullOrWhiteSpace(environmentValue))
            return Existing(environmentValue, $"{EnvironmentVariable}");

        var tried = new List<string>();
        foreach (var start in searchStarts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, DefaultRelativePath);
                if (File.Exists(candidate)) return candidate;
                tried.Add(dir.FullName);
            }
        }

        throw new OrtLibraryNotFoundException(
            $"ONNX Runtime (libonnxruntime.so.1) was not found: no explicit path, {EnvironmentVariable} is not set, and no " +
            $"{DefaultRelativePath} exists under {string.Join(", ", searchStarts)} or their parents. To fix it, {Fix}.");
    }

    private static string Existing(string path, string source)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) return full;
        throw new OrtLibraryNotFoundException(
            $"ONNX Runtime was not found at {full} (from {source}). To fix it, {Fix}.");
    }
}

/// <summary>The ONNX Runtime native library is missing or is not a usable ONNX Runtime.</summary>
public sealed class OrtLibraryNotFoundException : DllNotFoundException
{
    public OrtLibraryNotFoundException(string message) : base(message) { }

    public OrtLibraryNotFoundException(string message, Exception inner) : base(message, inner) { }
}
