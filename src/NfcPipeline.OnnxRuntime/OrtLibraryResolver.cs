namespace NfcPipeline.OnnxRuntime;

/// <summary>
/// Finds libonnxruntime.so.1: an explicit path first (the app binds Inference:OnnxRuntimePath to it), then the
/// NFC_ORT_LIBRARY environment variable, then .local/native/libonnxruntime.so.1 in the application directory or any
/// of its parents (so it works from the repository's build and test output folders). Not the current directory: a
/// program started in another account's folder would load the library that account put there.
/// An explicit path or variable that names a missing file is an error, not a reason to look elsewhere. The walk passes
/// over a library that another account may have put there: in a folder anyone may write to, such as /tmp/.local.
/// </summary>
public static class OrtLibraryResolver
{
    public const string EnvironmentVariable = "NFC_ORT_LIBRARY";
    public const string DefaultRelativePath = ".local/native/libonnxruntime.so.1";
    public const string Fix = "run ops/native.sh or set NFC_ORT_LIBRARY to the path of libonnxruntime.so.1";

    public static string Resolve(string? explicitPath = null) =>
        Resolve(explicitPath, Environment.GetEnvironmentVariable(EnvironmentVariable),
            [AppContext.BaseDirectory]);

    public static string Resolve(string? explicitPath, string? environmentValue, IReadOnlyList<string> searchStarts)
    {
        if (!string.IsNullOrWhiteSpace(explicitPath))
            return Existing(explicitPath, "the configured path (Inference:OnnxRuntimePath)");
        if (!string.IsNullOrWhiteSpace(environmentValue))
            return Existing(environmentValue, $"{EnvironmentVariable}");

        var passedOver = new List<string>();
        foreach (var start in searchStarts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, DefaultRelativePath);
                if (!File.Exists(candidate)) continue;
                if (!OthersMayHavePlaced(dir.FullName, candidate)) return candidate;
                passedOver.Add(candidate);
            }
        }

        throw new OrtLibraryNotFoundException(
            $"ONNX Runtime (libonnxruntime.so.1) was not found: no explicit path, {EnvironmentVariable} is not set, and no " +
            $"{DefaultRelativePath} exists under {string.Join(", ", searchStarts)} or their parents" +
            (passedOver.Count == 0 ? "" : $" (passed over, in a folder other accounts may write to: {string.Join(", ", passedOver.Distinct())})") +
            $". To fix it, {Fix}.");
    }

    /// <summary>
    /// Whether the folder the walk found the library under, its .local/native or the file is writable by every account:
    /// a library loaded from there runs whatever another local user put in it.
    /// </summary>
    private static bool OthersMayHavePlaced(string dir, string candidate)
    {
        if (OperatingSystem.IsWindows()) return false;
        string local = Path.Combine(dir, ".local");
        foreach (var path in new[] { dir, local, Path.Combine(local, "native"), candidate })
            if ((File.GetUnixFileMode(path) & UnixFileMode.OtherWrite) != 0) return true;
        return false;
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
