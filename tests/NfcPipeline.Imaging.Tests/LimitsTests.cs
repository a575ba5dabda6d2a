namespace NfcPipeline.Imaging.Tests;

public class LimitsTests
{
    [Fact]
    public void Defaults_are_the_documented_ones()
    {
        var options = ImageDecodeOptions.Default;

        Assert.Equal(50_000_000, options.MaxPixels);
        Assert.Equal((64, 64), (options.MinWidth, options.MinHeight));
        Assert.Equal(512L * 1024 * 1024, options.MaxFileBytes);
        Assert.True(options.ApplyExifOrientation);
    }

    [Theory]
    [InlineData("tiff_named.jpg")]
    [InlineData("gray.jpg")]
    [InlineData("palette.png")]
    [InlineData("bottom_up_24.bmp")]
    public void Max_pixels_is_configurable(string name)
    {
        var decoder = new ImageDecoder(new ImageDecodeOptions { MaxPixels = 4000 });

        Assert.Equal(ImageDecodeError.TooLarge, Fixtures.DecodeFails(name, decoder).Reason);
    }

    [Fact]
    public void A_raised_pixel_limit_still_stops_sizes_whose_four_value_scratch_buffers_would_overflow()
    {
        // 26000² = 676 M pixels: under a MaxPixels of 700 M, but an RGBA or CMYK buffer of 4 × 676 M values is past
        // Array.MaxLength (the count overflowed int, and the failure was AnalysisFailed instead of TooLarge).
        var options = new ImageDecodeOptions { MaxPixels = 700_000_000 };
        var error = Assert.Throws<ImageDecodeException>(() => DecodeLimits.CheckDimensions(options, ImageFormat.Png, 26_000, 26_000));
        Assert.Equal(ImageDecodeError.TooLarge, error.Reason);
        DecodeLimits.CheckDimensions(options, ImageFormat.Png, 23_000, 23_000);   // 529 M pixels: 4 values each still fit
    }

    [Fact]
    public void No_pixel_limit_still_stops_sides_whose_product_would_wrap()
    {
        // MaxPixels = long.MaxValue ("no limit") and a TIFF of 2^31 - 1 square: pixels × 4 wrapped negative and passed,
        // and the codec's int pixel count came out as 1.
        var options = new ImageDecodeOptions { MaxPixels = long.MaxValue };
        foreach (var (w, h) in new (long, long)[] { (int.MaxValue, int.MaxValue), (uint.MaxValue, uint.MaxValue), (1L << 32, 64), (64, 1L << 40) })
        {
            var error = Assert.Throws<ImageDecodeException>(() => DecodeLimits.CheckDimensions(options, ImageFormat.Tiff, w, h));
            Assert.Equal(ImageDecodeError.TooLarge, error.Reason);
        }
        DecodeLimits.CheckDimensions(options, ImageFormat.Tiff, 20_000, 20_000);
    }

    [Fact]
    public void Minimum_size_is_configurable()
    {
        var strict = new ImageDecoder(new ImageDecodeOptions { MinWidth = 100, MinHeight = 10 });
        var lenient = new ImageDecoder(new ImageDecodeOptions { MinWidth = 8, MinHeight = 8 });

        Assert.Equal(ImageDecodeError.TooSmall, Fixtures.DecodeFails("gray.jpg", strict).Reason); // 96 wide
        var tiny = lenient.DecodeFile(Fixtures.Path("tiny_10x10.png"));
        Assert.Equal((10, 10), (tiny.Width, tiny.Height));
        Fixtures.AssertPixel(tiny, 9, 9, (30, 30, 30));
    }

    [Fact]
    public void File_size_limit_is_checked_before_reading()
    {
        var decoder = new ImageDecoder(new ImageDecodeOptions { MaxFileBytes = 100_000 });

        var e = Fixtures.DecodeFails("tiff_named.jpg", decoder);

        Assert.Equal(ImageDecodeError.TooLarge, e.Reason);
        Assert.Contains("147502 bytes", e.Message);
    }

    [Fact]
    public void A_file_larger_than_one_array_is_TooLarge_whatever_the_configured_limit()
    {
        // With MaxFileBytes set above 2 GiB, a 3 GiB file was read to its first 2 GiB and failed as cut or damaged.
        string path = Path.Combine(Path.GetTempPath(), $"nfc-large-{Guid.NewGuid():N}.tif");
        try
        {
            using (var file = File.Create(path)) { file.Write("II*\0"u8); file.SetLength(3L << 30); }   // sparse: no disk used
            var decoder = new ImageDecoder(new ImageDecodeOptions { MaxFileBytes = 4L << 30 });

            var e = Assert.Throws<ImageDecodeException>(() => decoder.DecodeFile(path));

            Assert.Equal(ImageDecodeError.TooLarge, e.Reason);
            Assert.Contains($"above the limit of {Array.MaxLength}", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Limits_use_the_displayed_orientation()
    {
        // Stored 96×64, displayed 64×96 under orientation 6.
        var decoder = new ImageDecoder(new ImageDecodeOptions { MinWidth = 64, MinHeight = 90 });

        var image = decoder.DecodeFile(Fixtures.Path("exif_orientation_6.jpg"));

        Assert.Equal((64, 96), (image.Width, image.Height));
        Assert.Equal(ImageDecodeError.TooSmall, Fixtures.DecodeFails("exif_orientation_1.jpg", decoder).Reason);
    }
}
