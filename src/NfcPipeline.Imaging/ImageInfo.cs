namespace NfcPipeline.Imaging;

/// <summary>
/// What the header says, read without decoding pixels. Width and height are those
/// <see cref="ImageDecoder.Decode"/> will return, so after EXIF orientation where it applies.
/// </summary>
/// <param name="ExifOrientation">The stored orientation (1–8): JPEG EXIF or the TIFF Orientation tag; 1 when absent or for other formats.</param>
/// <param name="PageCount">TIFF pages (image directories); 1 for other formats.</param>
public sealed record ImageInfo(ImageFormat Format, int Width, int Height, int ExifOrientation = 1, int PageCount = 1);
