namespace NfcPipeline.Imaging.Tests;

public class SniffAndHeaderTests
{
    [Theory]
    [InlineData("gray.jpg", ImageFormat.Jpeg)]
    [InlineData("palette.png", ImageFormat.Png)]
    [InlineData("multipage.tif", ImageFormat.Tiff)]
    [InlineData("tiff_named.jpg", ImageFormat.Tiff)]
    [InlineData("palette_8.bmp", ImageFormat.Bmp)]
    public void Sniff_reads_the_magic_bytes_not_the_name(string name, ImageFormat expected)
    {
        Assert.Equal(expected, ImageDecoder.Sniff(Fixtures.Bytes(name)));
    }

    [Fact]
    public void Sniff_rejects_text_short_input_and_a_bare_BM()
    {
        Assert.Null(ImageDecoder.Sniff("hello world"u8));
        Assert.Null(ImageDecoder.Sniff([0xFF, 0xD8]));
        Assert.Null(ImageDecoder.Sniff("BM is a text that starts like a bitmap"u8));
        Assert.Null(ImageDecoder.Sniff([]));
    }

    [Theory]
    [InlineData("tiff_named.jpg", ImageFormat.Tiff, 1280, 1024, 1)]
    [InlineData("multipage.tif", ImageFormat.Tiff, 64, 64, 2)]
    [InlineData("rgb16.png", ImageFormat.Png, 64, 64, 1)]
    [InlineData("gray.jpg", ImageFormat.Jpeg, 96, 64, 1)]
    [InlineData("top_down_24.bmp", ImageFormat.Bmp, 70, 66, 1)]
    [InlineData("huge_header.png", ImageFormat.Png, 100_000, 100_000, 1)]
    public void Header_probe_reports_format_and_size(string name, ImageFormat format, int width, int height, int pages)
    {
        var info = new ImageDecoder().ReadHeaderFile(Fixtures.Path(name));

        Assert.Equal(new ImageInfo(format, width, height, PageCount: pages), info);
    }

    [Fact]
    public void Header_probe_matches_the_decoded_size()
    {
        var decoder = new ImageDecoder();
        foreach (string name in new[] { "cmyk.jpg", "palette.png", "rgba.png", "bottom_up_32.bmp", "exif_orientation_8.jpg" })
        {
            var info = decoder.ReadHeader(Fixtures.Bytes(name));
            var image = decoder.Decode(Fixtures.Bytes(name));
            Assert.Equal((info.Width, info.Height, info.Format), (image.Width, image.Height, image.SourceFormat));
        }
    }

    [Fact]
    public void Header_probe_of_a_cut_jpeg_header_is_Truncated()
    {
        byte[] data = Fixtures.Bytes("gray.jpg");

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().ReadHeader(data.AsSpan(0, 30)));

        Assert.Equal(ImageDecodeError.Truncated, e.Reason);
    }

    [Fact]
    public void Damaged_exif_is_ignored_and_the_image_still_decodes()
    {
        byte[] data = Fixtures.Bytes("exif_orientation_6.jpg");
        int exif = data.AsSpan().IndexOf("Exif\0\0"u8);
        data[exif + 6 + 4] = 0xFF; // IFD0 offset points far outside the segment

        var image = new ImageDecoder().Decode(data);

        Assert.Equal((96, 64), (image.Width, image.Height));
    }
}
