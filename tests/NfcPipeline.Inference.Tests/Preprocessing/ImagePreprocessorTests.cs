using NfcPipeline.Inference.Contract;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Tests.Preprocessing;

public class ImagePreprocessorTests
{
    private static byte[] Gradient(int w, int h) =>
        Enumerable.Range(0, w * h).SelectMany(i => new[] { (byte)(i % w * 4), (byte)(i / w * 4), (byte)77 }).ToArray();

    [Fact]
    public void An_input_above_the_pixel_limit_is_TooLarge_before_anything_is_allocated()
    {
        // A thin 400x4 image under a short-side policy of 512: 51200 x 512 model pixels.
        var pre = new ImagePreprocessor(new ShortSideSizePolicy(512, 32), InputNormalization.Identity, maxInputPixels: 4096L * 4096);
        var e = Assert.Throws<NfcPipeline.Imaging.ImageDecodeException>(() => pre.Run(new byte[400 * 4 * 3], 400, 4));
        Assert.Equal(NfcPipeline.Imaging.ImageDecodeError.TooLarge, e.Reason);
        Assert.Contains("51200×512", e.Message);
        using var fits = pre.Run(new byte[64 * 64 * 3], 64, 64);   // 512 x 512
        Assert.Equal((512, 512), (fits.Tensor.Width, fits.Tensor.Height));
    }

    [Fact]
    public void A_buffer_shorter_than_its_stated_size_is_refused_even_where_the_size_wraps_an_int()
    {
        var pre = new ImagePreprocessor(new ShortSideSizePolicy(512, 32), InputNormalization.Identity);
        // 37838 × 37838 × 3 wraps a 32-bit count to 175,436 bytes: a buffer that long passed.
        var e = Assert.Throws<ArgumentException>(() => pre.Run(new byte[175_436], 37_838, 37_838));
        Assert.Contains("Expected 4295142732 RGB bytes", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => pre.Run(new byte[12], 0, 4));
    }

    [Fact]
    public void A_sliver_whose_resize_would_overflow_is_TooLarge_not_an_allocation_failure()
    {
        // 1 × 3,000,000 px to a short side of 768: 2.3e9 px long, beyond int (it wrapped negative and passed the limit).
        var pre = new ImagePreprocessor(new ShortSideSizePolicy(768, 32), InputNormalization.Identity, maxInputPixels: 4096L * 4096);
        var e = Assert.Throws<NfcPipeline.Imaging.ImageDecodeException>(() => pre.Run(new byte[3_000_000 * 3], 1, 3_000_000));
        Assert.Equal(NfcPipeline.Imaging.ImageDecodeError.TooLarge, e.Reason);
        Assert.Contains("2304000000 px long", e.Message);
    }

    [Fact]
    public void Normalises_into_chw_and_pads_with_zeros()
    {
        var norm = new InputNormalization(ColorOrder.Rgb, 1f / 255f, [0.5f, 0.25f, 0f], [0.5f, 0.25f, 1f]);
        var rgb = Gradient(30, 20);
        using var result = new ImagePreprocessor(new ShortSideSizePolicy(0, 32), norm).Run(rgb, 30, 20);

        Assert.Equal((3, 32, 32), (result.Tensor.Channels, result.Tensor.Height, result.Tensor.Width));
        var t = result.Tensor.Span;
        int plane = 32 * 32;
        // Pixel (x=5, y=7): R = 20, G = 28, B = 77.
        Assert.Equal((20 / 255f - 0.5f) / 0.5f, t[0 * plane + 7 * 32 + 5], 5);
        Assert.Equal((28 / 255f - 0.25f) / 0.25f, t[1 * plane + 7 * 32 + 5], 5);
        Assert.Equal(77 / 255f, t[2 * plane + 7 * 32 + 5], 5);
        // Right and bottom padding are exactly zero.
        Assert.Equal(0f, t[0 * plane + 7 * 32 + 30]);
        Assert.Equal(0f, t[2 * plane + 25 * 32 + 3]);
    }

    [Fact]
    public void Bgr_models_get_blue_first()
    {
        var rgb = new byte[64 * 64 * 3];
        for (int i = 0; i < 64 * 64; i++) { rgb[i * 3] = 200; rgb[i * 3 + 1] = 100; rgb[i * 3 + 2] = 10; }
        var norm = new InputNormalization(ColorOrder.Bgr, 1f, [0f, 0f, 0f], [1f, 1f, 1f]);
        using var result = new ImagePreprocessor(new ShortSideSizePolicy(0, 1), norm).Run(rgb, 64, 64);

        var t = result.Tensor.Span;
        Assert.Equal(10f, t[0]);
        Assert.Equal(100f, t[64 * 64]);
        Assert.Equal(200f, t[2 * 64 * 64]);
    }

    [Fact]
    public void Bilinear_resize_matches_half_pixel_interpolation()
    {
        // A horizontal ramp R = 4x; halving the width makes each output the mean of two neighbours.
        var rgb = Gradient(64, 64);
        using var result = new ImagePreprocessor(new FixedSizePolicy(32, 32), new InputNormalization(ColorOrder.Rgb, 1f, [0f, 0f, 0f], [1f, 1f, 1f]))
            .Run(rgb, 64, 64);

        var t = result.Tensor.Span;
        for (int x = 0; x < 32; x++)
            Assert.Equal((4 * (2 * x) + 4 * (2 * x + 1)) / 2f, t[5 * 32 + x], 3);
        Assert.Equal(77f, t[2 * 32 * 32 + 100], 3);
    }

    [Fact]
    public void Too_few_bytes_for_the_declared_size_is_an_argument_error()
    {
        var pre = new ImagePreprocessor(new ShortSideSizePolicy(0, 32), InputNormalization.Identity);
        Assert.Throws<ArgumentException>(() => pre.Run(new byte[10], 64, 64));
    }
}
