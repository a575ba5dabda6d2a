namespace NfcPipeline.OnnxRuntime;

/// <summary>ONNX Runtime's error codes (OrtErrorCode in the C API); numbers the library adds later pass through.</summary>
public enum OrtErrorCode
{
    Ok = 0,
    Fail = 1,
    InvalidArgument = 2,
    NoSuchFile = 3,
    NoModel = 4,
    EngineError = 5,
    RuntimeException = 6,
    InvalidProtobuf = 7,
    ModelLoaded = 8,
    NotImplemented = 9,
    InvalidGraph = 10,
    EpFail = 11,
}

/// <summary>An error that ONNX Runtime reported, with its code and its own message.</summary>
public class OnnxRuntimeException : Exception
{
    public OnnxRuntimeException(OrtErrorCode errorCode, string ortMessage)
        : base($"[ErrorCode:{errorCode}] {ortMessage}")
    {
        ErrorCode = errorCode;
        OrtMessage = ortMessage;
    }

    public OrtErrorCode ErrorCode { get; }

    /// <summary>The message exactly as ONNX Runtime wrote it.</summary>
    public string OrtMessage { get; }
}

/// <summary>
/// A run's output holds more elements than one span can address (int.MaxValue): ONNX Runtime computed it, but it
/// cannot be read. An OnnxRuntimeException so that a batch falls back to one image per run, which may fit.
/// </summary>
public sealed class TensorTooLargeException(long elementCount) : OnnxRuntimeException(OrtErrorCode.Fail,
    $"an output tensor holds {elementCount} elements, more than the {int.MaxValue} one read can address; " +
    "fewer or smaller images per run (the batch size, the image size) keep it under")
{
    public long ElementCount { get; } = elementCount;
}
