using NfcPipeline.Core.Options;
using NfcPipeline.Inference.Contract;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Cli.Commands;

/// <summary>Turns the ways a model can fail to open into one clear line each, for exit code 1.</summary>
internal static class ModelLoading
{
    public static async Task<T?> TryOpenAsync<T>(Func<T> open, string verb) where T : struct
    {
        try { return open(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ModelContractException or DllNotFoundException
                                       or OnnxRuntimeException or UnknownClassNameException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"{verb}: {ex.Message}");
            return null;
        }
    }
}
