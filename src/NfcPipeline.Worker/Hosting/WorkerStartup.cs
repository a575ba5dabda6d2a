using NfcPipeline.Core.Options;
using NfcPipeline.Inference.Contract;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Worker.Hosting;

/// <summary>Start-up failures that are the model's or its settings' (said in one line), not the worker's own faults.</summary>
public static class WorkerStartup
{
    public static bool IsModelProblem(Exception ex) =>
        ex is FileNotFoundException or ModelContractException or OnnxRuntimeException or DllNotFoundException or ArgumentException
            or UnknownClassNameException or UnauthorizedAccessException or IOException;

    public static string Describe(Exception ex) => ex switch
    {
        FileNotFoundException => $"Inference:ModelPath: {ex.Message}",
        UnauthorizedAccessException or IOException => $"Inference:ModelPath cannot be read: {ex.Message}",
        ModelContractException or UnknownClassNameException => ex.Message,
        OnnxRuntimeException => $"ONNX Runtime cannot load the model: {ex.Message}",
        DllNotFoundException => $"a native library is missing (ops/native.sh installs them): {ex.Message}",
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };
}
