namespace NfcPipeline.Imaging;

/// <summary>Limits and switches for <see cref="ImageDecoder"/>. Limits are checked from the header, before any pixel buffer exists.</summary>
public sealed record ImageDecodeOptions
{
    public static ImageDecodeOptions Default { get; } = new();

    /// <summary>Largest width × height accepted; larger images fail with <see cref="ImageDecodeError.TooLarge"/>.</summary>
    public long MaxPixels { get; init; } = 50_000_000;

    /// <summary>Smallest decoded width accepted; narrower images fail with <see cref="ImageDecodeError.TooSmall"/>.</summary>
    public int MinWidth { get; init; } = 64;

    /// <summary>Smallest decoded height accepted.</summary>
    public int MinHeight { get; init; } = 64;

    /// <summary>Largest encoded size accepted, in bytes.</summary>
    public long MaxFileBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>Rotate and flip JPEG and TIFF pixels as the EXIF (or TIFF) orientation tag says (the decoded size follows).</summary>
    public bool ApplyExifOrientation { get; init; } = true;
}
