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
