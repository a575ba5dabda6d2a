namespace NfcPipeline.Imaging;

/// <summary>The size checks every codec runs on header dimensions before it allocates pixels.</summary>
internal static class DecodeLimits
{
    public static void CheckFileSize(ImageDecodeOptions options, long bytes)
    {
        if (bytes == 0)
            throw new ImageDecodeException(ImageDecodeError.Empty, "no data");
        // One byte array holds a file: past its length a read stops short, and the image failed as cut or damaged.
        long limit = Math.Min(options.MaxFileBytes, Array.MaxLength);
        if (bytes > limit)
            throw new ImageDecodeException(ImageDecodeError.TooLarge, $"{bytes} bytes is above the limit of {limit}");
    }

    public static void CheckDimensions(ImageDecodeOptions options, ImageFormat format, long width, long height)
    {
        // Array.MaxLength bounds the largest buffer a codec takes, whatever MaxPixels is set to: 4 values per pixel (the
        // RGBA, CMYK and 16-bit scratch buffers), so no size computed in int can overflow. Each side is bounded before
        // the product, which would itself wrap for sides near 2^31 (a TIFF may declare 2^32 - 1).
        long largest = Math.Min(options.MaxPixels, Array.MaxLength / 4);
        bool tooLarge = width > largest || height > largest || width * height > largest;
        long pixels = tooLarge && (width > int.MaxValue || height > int.MaxValue) ? long.MaxValue : width * height;
        if (tooLarge)
            throw new ImageDecodeException(ImageDecodeError.TooLarge,
                $"{format} header declares {width}x{height}{(pixels == long.MaxValue ? "" : $" = {pixels} pixels")}, above the limit of {largest}");
        if (width < options.MinWidth || height < options.MinHeight)
            throw new ImageDecodeException(ImageDecodeError.TooSmall,
                $"{format} is {width}x{height}, below the minimum of {options.MinWidth}x{options.MinHeight}");
    }
}
