using NfcPipeline.Imaging.Native;

namespace NfcPipeline.Imaging.Tests;

/// <summary>
/// Large and capillaroscope-sized images decode, rotate and encode correctly. Their speed is measured by the
/// benchmark commands (`nfc bench inference` decodes every image of its full path), not asserted here.
/// </summary>
public class LargeImageTests
{
    [Fact]
    public void A_4000_by_3000_jpeg_decodes_to_the_encoded_pixels()
    {
        byte[] jpeg = EncodeJpeg(4000, 3000);
        var image = new ImageDecoder().Decode(jpeg);

        Assert.Equal((4000, 3000, ImageFormat.Jpeg), (image.Width, image.Height, image.SourceFormat));
        // Green is a slow ramp (y >> 4); chroma subsampling blurs the noisy red into it, so compare a block's mean.
        double green = Enumerable.Range(0, 16 * 16).Average(i => image.GetPixel(2000 + i % 16, 1600 + i / 16).G);
        Assert.InRange(green, (1600 >> 4) - 8, (1600 >> 4) + 8);
    }

    [Fact]
    public void Capillaroscope_tiff_survives_png_round_trip_and_large_rotation_maps_corners()
    {
        var decoder = new ImageDecoder();
        var tiff = decoder.Decode(Fixtures.Bytes("tiff_named.jpg"));
        var png = decoder.Decode(PngEncoder.Encode(tiff));
        Assert.Equal((1280, 1024), (png.Width, png.Height));
        Assert.Equal(tiff.Pixels, png.Pixels);

        var large = decoder.Decode(EncodeJpeg(4000, 3000));
        var rotated = Orientation.Apply(large.Pixels, large.Width, large.Height, 6, out int width, out int height);
        Assert.Equal((3000, 4000), (width, height));
        // Orientation 6 turns the image 90° clockwise: the source's top-left pixel ends at the top-right.
        Assert.Equal(large.Pixels.AsSpan(0, 3).ToArray(), rotated.AsSpan((width - 1) * 3, 3).ToArray());
    }

    private static unsafe byte[] EncodeJpeg(int width, int height)
    {
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3;
                rgb[i] = (byte)(x * 7 ^ y);
                rgb[i + 1] = (byte)(y >> 4);
                rgb[i + 2] = (byte)((x + y) >> 5);
            }
        nint handle = TurboJpegNative.InitCompress();
        byte* output = null;
        nuint size = 0;
        try
        {
            fixed (byte* src = rgb)
                Assert.Equal(0, TurboJpegNative.Compress2(handle, src, width, width * 3, height, TurboJpegNative.PixelFormatRgb, &output, &size, 2, 90, 0)); // TJSAMP_420
            return new ReadOnlySpan<byte>(output, (int)size).ToArray();
        }
        finally
        {
            TurboJpegNative.Free(output);
            TurboJpegNative.Destroy(handle);
        }
    }
}
