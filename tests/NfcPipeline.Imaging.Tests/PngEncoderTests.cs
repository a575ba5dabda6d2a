namespace NfcPipeline.Imaging.Tests;

public class PngEncoderTests
{
    [Fact]
    public void Rgb_round_trip_is_lossless()
    {
        var source = new ImageDecoder().DecodeFile(Fixtures.Path("tiff_named.jpg"));

        byte[] png = PngEncoder.Encode(source);
        var back = new ImageDecoder().Decode(png);

        Assert.Equal(ImageFormat.Png, ImageDecoder.Sniff(png));
        Assert.Equal((source.Width, source.Height), (back.Width, back.Height));
        Assert.Equal(source.Pixels, back.Pixels);
        Assert.Empty(back.Notes);
    }

    [Fact]
    public void Rgba_overlay_keeps_its_alpha()
    {
        const int width = 80, height = 70;
        byte[] rgba = new byte[width * height * 4];
        for (int i = 0; i < width * height; i++)
        {
            rgba[i * 4] = (byte)i;
            rgba[i * 4 + 1] = (byte)(i >> 3);
            rgba[i * 4 + 2] = 200;
            rgba[i * 4 + 3] = (byte)(i % 3 == 0 ? 0 : 160);
        }

        byte[] png = PngEncoder.EncodeRgba(rgba, width, height);
        var back = new ImageDecoder().Decode(png);

        // The decoder drops alpha without compositing, so the colour channels come back exactly.
        for (int i = 0; i < width * height; i++)
            Assert.Equal((rgba[i * 4], rgba[i * 4 + 1], rgba[i * 4 + 2]), (back.Pixels[i * 3], back.Pixels[i * 3 + 1], back.Pixels[i * 3 + 2]));
        Assert.Equal(6, png[25]); // IHDR colour type 6: RGBA
    }

    [Fact]
    public void Incompressible_image_larger_than_the_first_guess_still_encodes()
    {
        const int width = 300, height = 200;
        byte[] noise = new byte[width * height * 3];
        new Random(7).NextBytes(noise);

        byte[] png = PngEncoder.EncodeRgb(noise, width, height);

        Assert.Equal(noise, new ImageDecoder().Decode(png).Pixels);
    }

    [Fact]
    public void Wrong_buffer_length_is_an_argument_error()
    {
        Assert.Throws<ArgumentException>(() => PngEncoder.EncodeRgb(new byte[10], 2, 2));
    }
}
