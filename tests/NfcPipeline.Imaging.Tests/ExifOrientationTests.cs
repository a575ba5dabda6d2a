namespace NfcPipeline.Imaging.Tests;

/// <summary>
/// The stored image is 96×64 with red, green, blue and white quadrants (TL, TR, BL, BR). For each EXIF
/// orientation the expected display corners follow the EXIF definition, written out by hand here.
/// </summary>
public class ExifOrientationTests
{
    private static readonly (int, int, int) Red = (255, 0, 0), Green = (0, 255, 0), Blue = (0, 0, 255), White = (255, 255, 255);

    public static TheoryData<int, (int, int, int), (int, int, int), (int, int, int), (int, int, int)> Corners => new()
    {
        { 1, Red, Green, Blue, White },
        { 2, Green, Red, White, Blue },   // mirrored left-right
        { 3, White, Blue, Green, Red },   // rotated 180
        { 4, Blue, White, Red, Green },   // mirrored top-bottom
        { 5, Red, Blue, Green, White },   // transposed
        { 6, Blue, Red, White, Green },   // rotated 90 clockwise for display
        { 7, White, Green, Blue, Red },   // transversed
        { 8, Green, White, Red, Blue },   // rotated 90 counter-clockwise for display
    };

    [Theory]
    [MemberData(nameof(Corners))]
    public void Orientation_is_applied_to_pixels_and_size(int orientation, (int, int, int) topLeft, (int, int, int) topRight, (int, int, int) bottomLeft, (int, int, int) bottomRight)
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path($"exif_orientation_{orientation}.jpg"));

        var expectedSize = orientation >= 5 ? (64, 96) : (96, 64);
        Assert.Equal(expectedSize, (image.Width, image.Height));
        const int inset = 6, tolerance = 8;
        Fixtures.AssertPixel(image, inset, inset, topLeft, tolerance);
        Fixtures.AssertPixel(image, image.Width - 1 - inset, inset, topRight, tolerance);
        Fixtures.AssertPixel(image, inset, image.Height - 1 - inset, bottomLeft, tolerance);
        Fixtures.AssertPixel(image, image.Width - 1 - inset, image.Height - 1 - inset, bottomRight, tolerance);
        if (orientation == 1)
            Assert.DoesNotContain(image.Notes, n => n.Contains("orientation", StringComparison.Ordinal));
        else
            Assert.Contains($"EXIF orientation {orientation} applied", image.Notes);
    }

    [Fact]
    public void Orientation_6_moves_each_stored_pixel_to_its_rotated_place_exactly()
    {
        var decoder = new ImageDecoder();
        var stored = decoder.Decode(Fixtures.Bytes("exif_orientation_1.jpg"));
        var rotated = decoder.Decode(Fixtures.Bytes("exif_orientation_6.jpg"));

        // 90° clockwise: stored (x, y) lands at (H−1−y, x).
        for (int y = 0; y < stored.Height; y += 7)
            for (int x = 0; x < stored.Width; x += 5)
                Assert.Equal(stored.GetPixel(x, y), rotated.GetPixel(stored.Height - 1 - y, x));
    }

    [Fact]
    public void Orientation_3_moves_each_stored_pixel_to_the_opposite_corner_exactly()
    {
        var decoder = new ImageDecoder();
        var stored = decoder.Decode(Fixtures.Bytes("exif_orientation_1.jpg"));
        var rotated = decoder.Decode(Fixtures.Bytes("exif_orientation_3.jpg"));

        for (int y = 0; y < stored.Height; y += 3)
            for (int x = 0; x < stored.Width; x += 3)
                Assert.Equal(stored.GetPixel(x, y), rotated.GetPixel(stored.Width - 1 - x, stored.Height - 1 - y));
    }

    [Fact]
    public void Header_probe_reports_the_displayed_size_and_the_orientation()
    {
        var info = new ImageDecoder().ReadHeaderFile(Fixtures.Path("exif_orientation_6.jpg"));

        Assert.Equal(new ImageInfo(ImageFormat.Jpeg, 64, 96, ExifOrientation: 6), info);
    }

    [Fact]
    public void An_orientation_stored_as_long_is_applied_as_a_short_one_is()
    {
        // Some writers store Orientation as LONG; a TIFF's was read so, a JPEG's was ignored (the field shown unrotated).
        var data = Fixtures.Bytes("exif_orientation_6.jpg");
        TiffTagPatch.Set(data, data.AsSpan().IndexOf("Exif\0\0"u8) + 6, 0x0112, TiffTagPatch.Long, 6);

        var decoder = new ImageDecoder();
        Assert.Equal(6, decoder.ReadHeader(data).ExifOrientation);
        var image = decoder.Decode(data);
        Assert.Equal((64, 96), (image.Width, image.Height));
        Assert.Equal(decoder.Decode(Fixtures.Bytes("exif_orientation_6.jpg")).GetPixel(10, 20), image.GetPixel(10, 20));
    }

    [Fact]
    public void An_orientation_stored_as_long_outside_1_to_8_is_ignored_with_a_note_as_a_short_one_is()
    {
        var data = Fixtures.Bytes("exif_orientation_6.jpg");
        TiffTagPatch.Set(data, data.AsSpan().IndexOf("Exif\0\0"u8) + 6, 0x0112, TiffTagPatch.Long, 70_000);

        var image = new ImageDecoder().Decode(data);
        Assert.Equal((96, 64), (image.Width, image.Height));   // as stored
        Assert.Contains("EXIF orientation 70000 is not valid (1-8): ignored", image.Notes);
    }

    [Fact]
    public void Orientation_can_be_switched_off()
    {
        var decoder = new ImageDecoder(new ImageDecodeOptions { ApplyExifOrientation = false });

        var image = decoder.DecodeFile(Fixtures.Path("exif_orientation_6.jpg"));

        Assert.Equal((96, 64), (image.Width, image.Height));
        Fixtures.AssertPixel(image, 6, 6, Red, 8);
        Assert.Contains("EXIF orientation 6 not applied (disabled by options)", image.Notes);
    }
}
