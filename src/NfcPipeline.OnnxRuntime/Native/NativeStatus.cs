namespace NfcPipeline.OnnxRuntime.Native;

/// <summary>Turns an OrtStatus into an exception, releasing the status in every case.</summary>
internal static unsafe class NativeStatus
{
    public static void Check(nint status)
    {
        if (status != 0) throw ToException(status);
    }

    /// <summary>
    /// Releases the status of a clean-up call (a free in a finally block) without throwing: its failure must not replace
    /// the error already on its way out, nor stop the frees after it.
    /// </summary>
    public static void ReleaseQuietly(nint status)
    {
        if (status != 0) OrtLibrary.Api.ReleaseStatus(status);
    }

    /// <summary>Converts and releases a failed status; null for success.</summary>
    public static OnnxRuntimeException? ToExceptionOrNull(nint status) => status == 0 ? null : ToException(status);

    private static OnnxRuntimeException ToException(nint status)
    {
        var api = OrtLibrary.Api;
        try
        {
            var code = (OrtErrorCode)api.GetErrorCode(status);
            var message = NativeText.FromUtf8(api.GetErrorMessage(status)) ?? string.Empty;
            return new OnnxRuntimeException(code, message);
        }
        finally
        {
            api.ReleaseStatus(status);
        }
    }
}
