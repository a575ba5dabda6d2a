using NfcPipeline.Imaging;

namespace NfcPipeline.Inference.Tests.Engine;

/// <summary>Images for the dense_colour fixture: red marks capillary, a green dot a centre, a blue dot keypoints.</summary>
internal static class ColourImages
{
    public sealed record Blob(int X, int Y, int Width, int Height, int KeypointX, int KeypointY)
    {
        public int CentreX => X + Width / 4 * 2;
        public int CentreY => Y + Height / 4 * 2;
    }

    /// <summary>Blobs on black; coordinates are even so that each 2×2 pooled cell is one colour.</summary>
    public static RgbImage Draw(int width, int height, params Blob[] blobs)
    {
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
        foreach (var blob in blobs)
        {
            Fill(blob.X, blob.Y, blob.Width, blob.Height, 255, 0, 0);
            Fill(blob.CentreX, blob.CentreY, 2, 2, 255, 255, 0);
            Fill(blob.KeypointX, blob.KeypointY, 2, 2, 255, 0, 255);
        }
        return new RgbImage(width, height, pixels, ImageFormat.Png);
    }
}
