namespace NfcPipeline.Imaging;

/// <summary>The size checks every codec runs on header dimensions before it allocates pixels.</summary>
internal static class DecodeLimits
{
    public static void CheckFileSize(ImageDecodeOptions options, long bytes)
    {
        if (bytes == 0)
            throw new ImageDecodeException(ImageDecodeError.Empty, "no data");
        if (bytes > options.MaxFileBytes)
            throw new ImageDecodeException(ImageDecodeError.TooLarge, $"{bytes} bytes is above the limit of {options.MaxFileBytes}");
    }

    public static void CheckDimensions(ImageDecodeOptions options, ImageFormat format, long width, long height)
    {
        long pixels = width * height;
        // Array.MaxLength bounds the largest buffer a codec takes, whatever MaxPixels is set to: 4 values per pixel (the
        // RGBA, CMYK and 16-bit scratch buffers), so no size computed in int can overflow.
        if (pixels > options.MaxPixels || pixels * 4 > Array.MaxLength)
            throw new ImageDecodeException(ImageDecodeError.TooLarge,
                $"{format} header declares {width}x{height} = {pixels} pixels, above the limit of {options.MaxPixels}");
        if (width < options.MinWidth || height < options.MinHeight)
            throw new ImageDecodeException(ImageDecodeError.TooSmall,
                $"{format} is {width}x{height}, below the minimum of {options.MinWidth}x{options.MinHeight}");
    }
}
