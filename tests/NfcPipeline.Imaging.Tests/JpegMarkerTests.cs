using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Tests;

/// <summary>JPEG marker layouts: segments after the frame header, a missing end-of-image marker, a cut before the scan.</summary>
public class JpegMarkerTests
{
    /// <summary>The segments from SOI up to the first SOS, each with its marker and length bytes, and the rest of the file.</summary>
    private static (List<byte[]> Segments, byte[] Scan) Split(byte[] jpeg)
    {
        var segments = new List<byte[]> { jpeg[..2] };
        int pos = 2;
        while (jpeg[pos + 1] != 0xDA)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(jpeg.AsSpan(pos + 2));
            segments.Add(jpeg[pos..(pos + 2 + length)]);
            pos += 2 + length;
        }
        return (segments, jpeg[pos..]);
    }

    /// <summary>The file with the first segment of <paramref name="moved"/> placed right after the frame header.</summary>
    private static byte[] MovedAfterFrame(byte[] jpeg, byte moved)
    {
        var (segments, rest) = Split(jpeg);
        var segment = segments.First(s => s[1] == moved);
        segments.Remove(segment);
        segments.Insert(segments.FindIndex(s => s[1] is 0xC0 or 0xC1 or 0xC2) + 1, segment);
        return [.. segments.SelectMany(s => s), .. rest];
    }

    [Fact]
    public void An_adobe_marker_after_the_frame_header_still_marks_inverted_cmyk()
    {
        // libjpeg reads every marker up to the scan; the header parser stopped at the frame, took the file for plain
        // CMYK and inverted every colour (red came out black).
        var decoder = new ImageDecoder();
        byte[] moved = MovedAfterFrame(Fixtures.Bytes("cmyk.jpg"), 0xEE);
        var image = decoder.Decode(moved);
        Assert.Equal(decoder.Decode(Fixtures.Bytes("cmyk.jpg")).Pixels, image.Pixels);
        Fixtures.AssertPixel(image, 8, 8, (255, 0, 0), tolerance: 6);
        Assert.Contains(image.Notes, n => n.StartsWith("CMYK JPEG converted to RGB (Adobe inverted CMYK", StringComparison.Ordinal));
    }

    [Fact]
    public void An_exif_segment_after_the_frame_header_still_turns_the_image()
    {
        var decoder = new ImageDecoder();
        byte[] original = Fixtures.Bytes("exif_orientation_6.jpg");
        byte[] moved = MovedAfterFrame(original, 0xE1);
        var image = decoder.Decode(moved);
        Assert.Equal(decoder.Decode(original).Pixels, image.Pixels);
        Assert.Equal(6, decoder.ReadHeader(moved).ExifOrientation);
        Assert.Contains("EXIF orientation 6 applied", image.Notes);
    }

    [Fact]
    public void A_stray_marker_in_the_scan_is_damage_not_an_unsupported_variant()
    {
        // libjpeg calls an unknown marker "Unsupported marker type": the user was told to re-export a damaged file.
        byte[] jpeg = Fixtures.Bytes("exif_orientation_6.jpg");
        var (segments, scan) = Split(jpeg);
        int sosLength = BinaryPrimitives.ReadUInt16BigEndian(scan.AsSpan(2));
        int at = 2 + sosLength + (scan.Length - 2 - sosLength) / 2;
        while (scan[at] == 0xFF || scan[at + 1] == 0xFF) at++;
        scan[at] = 0xFF; scan[at + 1] = 0x4F;
        var error = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode([.. segments.SelectMany(s => s), .. scan]));
        Assert.Equal(ImageDecodeError.Corrupt, error.Reason);
        Assert.Contains("Unsupported marker type 0x4f", error.Message);
    }

    [Theory]
    [InlineData(0, 480, ImageDecodeError.Corrupt)]
    [InlineData(640, 0, ImageDecodeError.Unsupported)]   // the height deferred to a DNL marker
    public void A_frame_of_zero_width_is_damage_and_of_zero_height_an_unsupported_dnl(int width, int height, ImageDecodeError reason)
    {
        byte[] jpeg = Fixtures.Bytes("gradient.jpg");
        var (segments, _) = Split(jpeg);
        int sof = segments.Take(segments.FindIndex(s => s[1] is 0xC0 or 0xC1 or 0xC2)).Sum(s => s.Length);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), (ushort)width);
        var error = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().ReadHeader(jpeg));
        Assert.Equal(reason, error.Reason);
        Assert.Contains($"declares {width}x{height}", error.Message);
    }

    [Theory]
    [InlineData(2)]   // FF D9 both gone
    [InlineData(1)]   // a lone FF left at the end
    public void A_jpeg_without_its_end_of_image_marker_decodes_whole_with_a_note(int cut)
    {
        // Every pixel is in its one scan; some frame grabbers write no end-of-image marker. It failed as Truncated.
        var decoder = new ImageDecoder();
        byte[] original = Fixtures.Bytes("gradient.jpg");
        var image = decoder.Decode(original[..^cut]);
        Assert.Equal(decoder.Decode(original).Pixels, image.Pixels);
        Assert.Contains("JPEG without an end-of-image marker: its one scan decoded whole", image.Notes);
        Assert.DoesNotContain(decoder.Decode(original).Notes, n => n.Contains("end-of-image", StringComparison.Ordinal));
    }

    [Fact]
    public void A_jpeg_cut_inside_its_scan_stays_Truncated()
    {
        byte[] original = Fixtures.Bytes("gradient.jpg");
        var error = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(original[..(original.Length - 200)]));
        Assert.Equal(ImageDecodeError.Truncated, error.Reason);
    }

    [Fact]
    public void A_jpeg_cut_between_its_frame_header_and_its_scan_is_Truncated_not_Corrupt()
    {
        // Cut inside the tables after the frame header: TurboJPEG called it a bogus Huffman table (Corrupt).
        byte[] original = Fixtures.Bytes("gray.jpg");
        var (segments, _) = Split(original);
        int frameEnd = segments.TakeWhile(s => s[1] is not (0xC0 or 0xC1 or 0xC2)).Sum(s => s.Length) + segments.First(s => s[1] is 0xC0 or 0xC1 or 0xC2).Length;
        int scanStart = segments.Sum(s => s.Length);
        Assert.True(scanStart > frameEnd + 4, "the fixture has tables between its frame header and its scan");
        var decoder = new ImageDecoder();
        foreach (int cut in new[] { frameEnd + 3, (frameEnd + scanStart) / 2, scanStart + 3 })
        {
            var error = Assert.Throws<ImageDecodeException>(() => decoder.Decode(original[..cut]));
            Assert.Equal(ImageDecodeError.Truncated, error.Reason);
            Assert.Contains("before the first scan", error.Message);
        }
    }
}
