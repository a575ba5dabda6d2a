using NfcPipeline.Imaging;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// Images for the dense_colour fixture model: red marks capillary, a green dot marks each instance's centre, a blue
/// dot its keypoints. Every image holds exactly two well-separated capillaries; the seed moves them, so contents differ.
/// </summary>
public static class ColourStudy
{
    public const int CapillariesPerImage = 2;

    public static RgbImage Image(int width, int height, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 3];
        void Fill(int x0, int y0, int w, int h, byte r, byte g, byte b)
        {
            for (int y = y0; y < y0 + h; y++)
                for (int x = x0; x < x0 + w; x++)
                {
                    int i = (y * width + x) * 3;
                    pixels[i] = r; pixels[i + 1] = g; pixels[i + 2] = b;
                }
        }
        for (int k = 0; k < CapillariesPerImage; k++)
        {
            int x = 2 * random.Next(4, width / 4 - 12) + k * (width / 2), y = 2 * random.Next(4, height / 2 - 24);
            x = Math.Min(x, width - 20);
            Fill(x, y, 16, 36, 255, 0, 0);
            Fill(x + 8, y + 18, 2, 2, 255, 255, 0);
            Fill(x + 6, y, 2, 2, 255, 0, 255);
        }
        return new RgbImage(width, height, pixels, ImageFormat.Png);
    }
}
