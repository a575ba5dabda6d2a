using NfcPipeline.Imaging;
using NfcPipeline.Inference.Tests.Engine;

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
        var blobs = new ColourImages.Blob[CapillariesPerImage];
        for (int k = 0; k < CapillariesPerImage; k++)
        {
            int x = 2 * random.Next(4, width / 4 - 12) + k * (width / 2), y = 2 * random.Next(4, height / 2 - 24);
            x = Math.Min(x, width - 20);
            blobs[k] = new ColourImages.Blob(x, y, 16, 36, x + 6, y);   // centre dot at (x + 8, y + 18)
        }
        return ColourImages.Draw(width, height, blobs);
    }
}
