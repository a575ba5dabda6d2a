namespace NfcPipeline.Imaging;

/// <summary>Container formats the decoder recognises from their magic bytes.</summary>
public enum ImageFormat
{
    Jpeg,
    Png,
    Tiff,
    Bmp,
}
