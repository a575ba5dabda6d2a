namespace NfcPipeline.Imaging;

/// <summary>The one exception the decoder throws for bad input; <see cref="Reason"/> says why.</summary>
public sealed class ImageDecodeException : Exception
{
    public ImageDecodeException(ImageDecodeError reason, string message, Exception? inner = null)
        : base($"{reason}: {message}", inner)
    {
        Reason = reason;
        Detail = message;
    }

    public ImageDecodeError Reason { get; }

    /// <summary>The message without the reason prefix.</summary>
    public string Detail { get; }
}
