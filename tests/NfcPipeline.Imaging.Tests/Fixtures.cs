namespace NfcPipeline.Imaging.Tests;

/// <summary>The committed corpus in tests/fixtures/images (written by make_corpus.py), copied next to the test assembly.</summary>
internal static class Fixtures
{
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", "images", name);

    public static byte[] Bytes(string name) => File.ReadAllBytes(Path(name));

    public static ImageDecodeException DecodeFails(string name, ImageDecoder? decoder = null) =>
        Assert.Throws<ImageDecodeException>(() => (decoder ?? new ImageDecoder()).DecodeFile(Path(name)));

    public static void AssertPixel(RgbImage image, int x, int y, (int R, int G, int B) expected, int tolerance = 0)
    {
        var (r, g, b) = image.GetPixel(x, y);
        bool close = Math.Abs(r - expected.R) <= tolerance && Math.Abs(g - expected.G) <= tolerance && Math.Abs(b - expected.B) <= tolerance;
        Assert.True(close, $"pixel ({x},{y}) is ({r},{g},{b}), expected {expected} ± {tolerance}");
    }
}
