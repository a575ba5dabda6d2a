using System.Diagnostics;
using NfcPipeline.Imaging.Native;
using Xunit.Abstractions;

namespace NfcPipeline.Imaging.Tests;

public class PerformanceTests(ITestOutputHelper output)
{
    [Fact]
    public void Large_jpeg_decodes_in_well_under_a_second()
    {
        byte[] jpeg = EncodeJpeg(4000, 3000);
        var decoder = new ImageDecoder();
        decoder.Decode(jpeg); // first call loads the library and JITs

        var times = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            var watch = Stopwatch.StartNew();
            var image = decoder.Decode(jpeg);
            times.Add(watch.Elapsed.TotalMilliseconds);
            Assert.Equal((4000, 3000), (image.Width, image.Height));
        }
        times.Sort();
        output.WriteLine($"4000x3000 JPEG ({jpeg.Length} bytes): median {times[2]:F1} ms, best {times[0]:F1} ms");
        // Measured about 60 ms on an idle core; the bound leaves room for a shared CI machine.
        Assert.True(times[0] < 600, $"best of five {times[0]:F1} ms");
    }

    [Fact]
    public void Capillaroscope_sized_tiff_and_png_and_a_large_rotation_stay_fast()
    {
        var decoder = new ImageDecoder();
        byte[] tiff = Fixtures.Bytes("tiff_named.jpg");
        byte[] png = PngEncoder.Encode(decoder.Decode(tiff));
        var large = decoder.Decode(EncodeJpeg(4000, 3000));

        double tiffMs = BestOf(5, () => decoder.Decode(tiff));
        double pngMs = BestOf(5, () => decoder.Decode(png));
        double rotateMs = BestOf(3, () => Orientation.Apply(large.Pixels, large.Width, large.Height, 6, out _, out _));
        double encodeMs = BestOf(3, () => PngEncoder.EncodeRgb(large.Pixels.AsSpan(0, 1280 * 1024 * 3), 1280, 1024));

        output.WriteLine($"1280x1024 LZW RGBA TIFF: {tiffMs:F1} ms; 1280x1024 RGB PNG: {pngMs:F1} ms; " +
                         $"4000x3000 orientation 6: {rotateMs:F1} ms; 1280x1024 PNG encode: {encodeMs:F1} ms");
        Assert.True(tiffMs < 500 && pngMs < 500 && rotateMs < 1000 && encodeMs < 2000);
    }

    private static double BestOf(int runs, Action action)
    {
        action();
        double best = double.MaxValue;
        for (int i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            best = Math.Min(best, watch.Elapsed.TotalMilliseconds);
        }
        return best;
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
