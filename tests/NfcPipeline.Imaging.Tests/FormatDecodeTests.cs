using System.Security.Cryptography;

namespace NfcPipeline.Imaging.Tests;

public class FormatDecodeTests
{
    private static readonly (int, int, int) Red = (255, 0, 0), Green = (0, 255, 0), Blue = (0, 0, 255), White = (255, 255, 255);

    [Fact]
    public void Rgba_png_drops_alpha_without_compositing()
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("rgba.png"));

        // Left half alpha 0, right half alpha 128: the stored colour must come through unchanged in both.
        for (int i = 0; i < image.Pixels.Length; i += 3)
            Assert.Equal((40, 160, 220), (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]));
        Assert.Contains("alpha channel dropped", image.Notes);
    }

    [Fact]
    public void Multi_page_tiff_decodes_the_first_page_with_a_note()
    {
        var decoder = new ImageDecoder();

        var image = decoder.DecodeFile(Fixtures.Path("multipage.tif"));

        Assert.Equal((64, 64, ImageFormat.Tiff), (image.Width, image.Height, image.SourceFormat));
        Fixtures.AssertPixel(image, 0, 0, Red);
        Fixtures.AssertPixel(image, 63, 63, Red);
        Assert.Contains("multi-page TIFF (2 pages): first page used", image.Notes);
        Assert.Equal(2, decoder.ReadHeaderFile(Fixtures.Path("multipage.tif")).PageCount);
    }

    [Theory]
    [InlineData("bottom_up_24.bmp")]
    [InlineData("top_down_24.bmp")]
    [InlineData("bottom_up_32.bmp")]
    [InlineData("palette_8.bmp")]
    public void Bmp_variants_decode_exactly(string name)
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path(name));

        Assert.Equal((70, 66, ImageFormat.Bmp), (image.Width, image.Height, image.SourceFormat));
        Fixtures.AssertPixel(image, 0, 0, Red);
        Fixtures.AssertPixel(image, 34, 32, Red);
        Fixtures.AssertPixel(image, 35, 0, Green);
        Fixtures.AssertPixel(image, 69, 32, Green);
        Fixtures.AssertPixel(image, 0, 33, Blue);
        Fixtures.AssertPixel(image, 34, 65, Blue);
        Fixtures.AssertPixel(image, 35, 33, White);
        Fixtures.AssertPixel(image, 69, 65, White);
    }

    [Fact]
    public void Truncated_bmp_pixel_data_is_Truncated()
    {
        byte[] data = Fixtures.Bytes("bottom_up_24.bmp");

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(data.AsSpan(0, data.Length - 100)));

        Assert.Equal(ImageDecodeError.Truncated, e.Reason);
    }

    [Theory]
    [InlineData("bottom_up_24.bmp", 0)]    // the file header read as pixels
    [InlineData("palette_8.bmp", 60)]      // inside the palette
    public void Bmp_pixel_data_said_to_begin_inside_the_headers_is_Corrupt(string name, int offset)
    {
        byte[] data = Fixtures.Bytes(name);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(10), offset);

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(data));

        Assert.Equal(ImageDecodeError.Corrupt, e.Reason);
        Assert.Contains("begins inside the headers or the palette", e.Message);
    }

    [Fact]
    public void Flat_colour_jpeg_decodes_to_its_colour()
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("flat_200_120_40.jpg"));

        double r = 0, g = 0, b = 0;
        for (int i = 0; i < image.Pixels.Length; i += 3)
        {
            r += image.Pixels[i];
            g += image.Pixels[i + 1];
            b += image.Pixels[i + 2];
        }
        int n = image.Width * image.Height;
        Assert.InRange(r / n, 199.0, 201.0);
        Assert.InRange(g / n, 119.0, 121.0);
        Assert.InRange(b / n, 39.0, 41.0);
    }

    [Fact]
    public void Jpeg_decode_is_bit_exact_with_opencv()
    {
        string expected = File.ReadAllText(Fixtures.Path("gradient.jpg.opencv-rgb.sha256")).Trim();

        var image = new ImageDecoder().DecodeFile(Fixtures.Path("gradient.jpg"));

        Assert.Equal((240, 160), (image.Width, image.Height));
        Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(image.Pixels)));
    }

    [Fact]
    public void Decoding_a_file_leaves_it_untouched()
    {
        string path = Path.Combine(Path.GetTempPath(), $"nfc-imaging-{Guid.NewGuid():N}.jpg");
        File.Copy(Fixtures.Path("tiff_named.jpg"), path);
        try
        {
            var writeTime = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(path, writeTime);
            byte[] hash = SHA256.HashData(File.ReadAllBytes(path));

            new ImageDecoder().DecodeFile(path);
            new ImageDecoder().ReadHeaderFile(path);

            Assert.Equal(hash, SHA256.HashData(File.ReadAllBytes(path)));
            Assert.Equal(writeTime, File.GetLastWriteTimeUtc(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Parallel_decodes_each_get_only_their_own_libtiff_warnings()
    {
        byte[] multipage = Fixtures.Bytes("multipage.tif");
        byte[] lzw = Fixtures.Bytes("tiff_named.jpg");
        var decoder = new ImageDecoder();
        var expectedMultipage = decoder.Decode(multipage).Notes;
        var expectedLzw = decoder.Decode(lzw).Notes;

        Parallel.For(0, 32, i =>
        {
            var image = decoder.Decode(i % 2 == 0 ? multipage : lzw);
            Assert.Equal(i % 2 == 0 ? expectedMultipage : expectedLzw, image.Notes);
        });
    }
}
