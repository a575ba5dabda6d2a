using System.Runtime.InteropServices;

namespace NfcPipeline.OnnxRuntime.Native;

/// <summary>
/// The loaded libonnxruntime.so.1 and its function table. Loaded once per process and never unloaded: ORT keeps
/// threads and static state alive that must not outlive the code.
/// </summary>
internal static unsafe class OrtLibrary
{
    private static readonly object Gate = new();
    private static volatile LoadedLibrary? _loaded;

    public static OrtApi Api => (_loaded ?? Load(explicitPath: null)).Api;

    public static LoadedLibrary Loaded => _loaded ?? Load(explicitPath: null);

    public static bool IsLoaded => _loaded is not null;

    /// <summary>Loads the library once. A later call naming a different file fails instead of being ignored.</summary>
    public static LoadedLibrary Load(string? explicitPath)
    {
        lock (Gate)
        {
            if (_loaded is { } loaded)
            {
                if (explicitPath is not null && Path.GetFullPath(explicitPath) != loaded.Path)
                    throw new InvalidOperationException(
                        $"ONNX Runtime is already loaded from {loaded.Path}; it cannot be switched to {explicitPath} in the same process.");
                return loaded;
            }

            var path = OrtLibraryResolver.Resolve(explicitPath);
            nint module;
            try
            {
                module = NativeLibrary.Load(path);
            }
            catch (DllNotFoundException ex)
            {
                throw new OrtLibraryNotFoundException($"ONNX Runtime at {path} could not be loaded: {ex.Message}", ex);
            }

            // A library refused is unloaded: a later try with the right path would otherwise sit beside it.
            if (!NativeLibrary.TryGetExport(module, "OrtGetApiBase", out var getApiBaseExport))
            {
                NativeLibrary.Free(module);
                throw new OrtLibraryNotFoundException($"{path} does not export OrtGetApiBase, so it is not ONNX Runtime.");
            }

            var apiBase = ((delegate* unmanaged<nint>)getApiBaseExport)();
            // OrtApiBase is { GetApi(uint version), GetVersionString() }.
            var getApi = (delegate* unmanaged<uint, nint>)((nint*)apiBase)[0];
            var getVersionString = (delegate* unmanaged<byte*>)((nint*)apiBase)[1];
            var version = NativeText.FromUtf8(getVersionString()) ?? "unknown";
            var table = getApi(OrtApi.Version);
            if (table == 0)
            {
                NativeLibrary.Free(module);
                throw new OrtLibraryNotFoundException(
                    $"ONNX Runtime {version} at {path} does not offer C API version {OrtApi.Version}; version 1.13 or later is needed.");
            }

            _loaded = new LoadedLibrary(path, version, new OrtApi(table));
            return _loaded;
        }
    }
}

internal sealed record LoadedLibrary(string Path, string Version, OrtApi Api);
