using System.Diagnostics;

namespace NfcPipeline.Imaging.Tests;

/// <summary>Files built to make a decoder misbehave (make_corpus.py writes them): each fails alone, quickly, with a reason.</summary>
public class CraftedInputTests
{
    /// <summary>A 16-bit RGBA PNG without gAMA or sRGB, every pixel the same, written chunk by chunk.</summary>
    private static byte[] Png16Rgba(int size, ushort r, ushort g, ushort b, ushort a) => Png16Rgba(size, (_, _) => (r, g, b, a));

    /// <summary>A 16-bit RGBA PNG, Adam7-interlaced when asked (its seven passes, each row filter "none").</summary>
    private static byte[] Png16Rgba(int size, Func<int, int, (ushort R, ushort G, ushort B, ushort A)> pixel, bool interlaced = false)
    {
        static byte[] Chunk(string type, byte[] body)
        {
            var chunk = new byte[12 + body.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(chunk, body.Length);
            System.Text.Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
            body.CopyTo(chunk, 8);
            uint crc = 0xFFFFFFFF;
            foreach (byte v in chunk.AsSpan(4, 4 + body.Length))
            {
                crc ^= v;
                for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320 & (uint)-(int)(crc & 1));
            }
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + body.Length), ~crc);
            return chunk;
        }
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, size);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), size);
        (header[8], header[9], header[12]) = (16, 6, (byte)(interlaced ? 1 : 0));
        (int X0, int Y0, int Dx, int Dy)[] passes = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)];
        var raw = new MemoryStream();
        foreach (var (x0, y0, dx, dy) in passes)
        {
            if (x0 >= size || y0 >= size) continue;   // an empty pass has no rows at all
            for (int y = y0; y < size; y += dy)
            {
                raw.WriteByte(0);   // filter: none
                for (int x = x0; x < size; x += dx)
                {
                    var (r, g, b, a) = pixel(x, y);
                    foreach (ushort v in new[] { r, g, b, a }) { raw.WriteByte((byte)(v >> 8)); raw.WriteByte((byte)v); }
                }
            }
        }
        var packed = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(packed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            raw.WriteTo(z);
        return [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, .. Chunk("IHDR", header), .. Chunk("IDAT", packed.ToArray()), .. Chunk("IEND", [])];
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)1)]
    [InlineData((ushort)32768)]
    [InlineData((ushort)65535)]
    public void Sixteen_bit_RGBA_keeps_its_colour_whatever_the_alpha(ushort alpha)
    {
        // libpng's linear output is premultiplied: at alpha 0 the colour came out black, at alpha 1 of 65535 coarse.
        var image = new ImageDecoder().Decode(Png16Rgba(64, 40000, 20000, 10000, alpha));
        Fixtures.AssertPixel(image, 10, 10, (156, 78, 39), tolerance: 1);
        Assert.Contains("alpha channel dropped", image.Notes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_interlaced_sixteen_bit_RGBA_gradient_decodes_as_the_same_file_not_interlaced(bool interlaced)
    {
        // libpng's 8-bit reading of an interlaced 16-bit file with alpha put half the pixels off by up to 241 levels.
        static (ushort, ushort, ushort, ushort) Gradient(int x, int y) =>
            ((ushort)(x * 1000 + y * 17), (ushort)(y * 1000 + 5), (ushort)((x + y) * 500), (ushort)(x == 3 && y == 5 ? 0 : 65535));
        var image = new ImageDecoder().Decode(Png16Rgba(64, Gradient, interlaced));
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                if (x == 3 && y == 5) continue;
                var (r, g, b, _) = Gradient(x, y);
                Fixtures.AssertPixel(image, x, y, ((int)Math.Round(r / 257.0), (int)Math.Round(g / 257.0), (int)Math.Round(b / 257.0)), tolerance: 1);
            }
        if (interlaced) Assert.Contains(image.Notes, n => n.Contains("1 fully transparent pixel(s) have no colour"));
    }

    [Fact]
    public void Padding_bytes_before_a_JPEG_marker_decode_with_libjpeg_turbos_warning()
    {
        // One 0x00 after APP0 (2 + 2 + 16 bytes in): libjpeg skips it with a warning; the managed header parser used
        // to refuse the file as Corrupt before TurboJPEG saw it.
        byte[] original = Fixtures.Bytes("gradient.jpg");
        byte[] padded = [.. original[..20], 0x00, .. original[20..]];
        var decoder = new ImageDecoder();
        var image = decoder.Decode(padded);
        Assert.Equal(decoder.Decode(original).Width, image.Width);
        Assert.Equal((image.Width, image.Height), (decoder.ReadHeader(padded).Width, decoder.ReadHeader(padded).Height));
        Assert.Contains(image.Notes, n => n.Contains("extraneous", StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("sampling_4x2.jpg")]
    [InlineData("sampling_1x4.jpg")]
    public void A_jpeg_with_sampling_factors_TurboJPEG_does_not_name_decodes(string name)
    {
        // tjDecompressHeader3 fails on these ("Could not determine subsampling type"); they were refused as Corrupt.
        var image = new ImageDecoder().DecodeFile(Fixtures.Path(name));
        Assert.Equal((128, 128), (image.Width, image.Height));
        Assert.All(image.Pixels, p => Assert.Equal(128, p));
        Assert.Contains("JPEG with chroma sampling factors TurboJPEG does not name: decoded by libjpeg", image.Notes);
    }

    [Fact]
    public void A_jpeg_whose_scan_data_is_damaged_is_Corrupt_not_an_image_of_wrong_pixels()
    {
        // Seven bytes overwritten inside the scan: libjpeg warns of a bad Huffman code and decodes on regardless.
        byte[] damaged = Fixtures.Bytes("gradient.jpg");
        new byte[] { 254, 65, 243, 212, 11, 232, 18 }.CopyTo(damaged, 1494);
        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(damaged));
        Assert.Equal(ImageDecodeError.Corrupt, e.Reason);
        Assert.Contains("Corrupt JPEG data: bad Huffman code", e.Message);

        // A scan cut short by a marker, the file otherwise complete: damage, not a truncated file.
        byte[] hitMarker = Fixtures.Bytes("gradient.jpg");
        hitMarker[633] = 0;
        e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(hitMarker));
        Assert.Equal(ImageDecodeError.Corrupt, e.Reason);
        Assert.Contains("premature end of data segment", e.Message);
    }

    [Theory]
    [InlineData("jfif2", "bad Huffman code", ImageDecodeError.Corrupt)]
    [InlineData("padding", "bad Huffman code", ImageDecodeError.Corrupt)]
    [InlineData("jfif2-cut", "ends inside its scan", ImageDecodeError.Truncated)]
    [InlineData("sos-zero", "bad Huffman code", ImageDecodeError.Corrupt)]
    [InlineData("sos-zero-cut", "ends inside its scan", ImageDecodeError.Truncated)]
    [InlineData("adobe-cut", "ends inside its scan", ImageDecodeError.Truncated)]
    public void Scan_damage_behind_a_header_warning_is_still_found(string variant, string expected, ImageDecodeError reason)
    {
        // libjpeg reports only its first warning: an unknown JFIF revision, padding before a marker, zero progression
        // bytes in a sequential scan or an unknown Adobe transform took that one slot, and the damaged scan behind it
        // decoded as an image with a note.
        byte[] file = Fixtures.Bytes("gradient.jpg");
        new byte[] { 254, 65, 243, 212, 11, 232, 18 }.CopyTo(file, 1494);
        if (variant.StartsWith("jfif2", StringComparison.Ordinal)) (file[11], file[12]) = (2, 1);
        if (variant == "padding") file = [.. file[..20], 0x00, .. file[20..]];
        if (variant.StartsWith("sos-zero", StringComparison.Ordinal)) ZeroScanProgression(file);
        if (variant.EndsWith("-cut", StringComparison.Ordinal))
        {
            file = Fixtures.Bytes(variant == "adobe-cut" ? "cmyk.jpg" : "gradient.jpg");
            if (variant == "jfif2-cut") (file[11], file[12]) = (2, 1);
            if (variant == "sos-zero-cut") ZeroScanProgression(file);
            if (variant == "adobe-cut") file[AdobeTransformAt(file)] = 1;
            file = file[..(file.Length * 3 / 4)];
        }
        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(file));
        Assert.Equal(reason, e.Reason);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Zero_progression_bytes_and_an_unknown_Adobe_transform_decode_as_libjpeg_reads_them_with_a_note()
    {
        var decoder = new ImageDecoder();
        byte[] zeroed = Fixtures.Bytes("gradient.jpg");
        ZeroScanProgression(zeroed);
        var image = decoder.Decode(zeroed);
        Assert.Equal(decoder.Decode(Fixtures.Bytes("gradient.jpg")).Pixels, image.Pixels);
        Assert.Contains("JPEG: 1 sequential scan(s) with progression bytes other than 0, 63, 0 read as sequential", image.Notes);

        byte[] adobe = Fixtures.Bytes("cmyk.jpg");
        adobe[AdobeTransformAt(adobe)] = 7;
        image = decoder.Decode(adobe);
        Assert.Equal(decoder.Decode(Fixtures.Bytes("cmyk.jpg")).Pixels, image.Pixels);
        Assert.Contains("JPEG: unknown Adobe colour transform code 7 read as YCCK", image.Notes);
    }

    [Fact]
    public void Padding_before_several_markers_with_patched_headers_decodes_as_the_original()
    {
        // Padding cuts the file into pieces, and the JFIF revision and the scan's progression bytes are patched in
        // them: each patch must land in its own piece, shifted by the padding skipped before it.
        byte[] original = Fixtures.Bytes("gradient.jpg");
        byte[] file = [.. original];
        (file[11], file[12]) = (2, 1);
        ZeroScanProgression(file);
        var markers = Enumerable.Range(2, file.Length - 3).Where(i => file[i] == 0xFF && file[i + 1] is 0xDB or 0xC4 or 0xC0 or 0xDA).ToList();
        var sos = markers.First(i => file[i + 1] == 0xDA);
        var headerMarkers = markers.Where(i => i <= sos).ToList();
        Assert.True(headerMarkers.Count >= 3);
        foreach (var at in Enumerable.Reverse(headerMarkers)) file = [.. file[..at], 0x00, 0x00, .. file[at..]];

        var decoder = new ImageDecoder();
        var image = decoder.Decode(file);

        Assert.Equal(decoder.Decode(original).Pixels, image.Pixels);
        Assert.Contains(image.Notes, n => n.Contains($"{2 * headerMarkers.Count} extraneous", StringComparison.Ordinal));
        Assert.Contains("JPEG: 1 sequential scan(s) with progression bytes other than 0, 63, 0 read as sequential", image.Notes);
    }

    /// <summary>Sets the first scan's Ss, Se, Ah/Al to 0, 0, 0, as some baseline writers leave them.</summary>
    private static void ZeroScanProgression(byte[] file)
    {
        int sos = file.AsSpan().IndexOf((ReadOnlySpan<byte>)[0xFF, 0xDA]);
        file[sos + 5 + 2 * file[sos + 4] + 1] = 0;
    }

    private static int AdobeTransformAt(byte[] file) => file.AsSpan().IndexOf("Adobe"u8) + 11;

    [Fact]
    public void A_tiff_strip_of_thousands_of_samples_per_pixel_is_TooLarge_before_libtiff_allocates_it()
    {
        // 128x128 pixels, 2000 samples each: 40 KB on disk, 32 MB in one decoded strip.
        var e = Fixtures.DecodeFails("samples_bomb.tif");
        Assert.Equal(ImageDecodeError.TooLarge, e.Reason);
        Assert.Contains("strip decodes to 32768000 bytes", e.Message);
    }

    [Fact]
    public void A_bigtiff_directory_offset_that_wraps_around_is_Truncated_not_an_exception()
    {
        var bytes = Fixtures.Bytes("bigtiff_offset_wraps.tif");
        Assert.Equal(ImageDecodeError.Truncated, Assert.Throws<ImageDecodeException>(() => new ImageDecoder().ReadHeader(bytes)).Reason);
        Assert.Equal(ImageDecodeError.Truncated, Fixtures.DecodeFails("bigtiff_offset_wraps.tif").Reason);
    }

    [Fact]
    public void A_progressive_jpeg_of_600_scans_is_Corrupt_without_decoding_them_all()
    {
        var clock = Stopwatch.StartNew();
        var e = Fixtures.DecodeFails("scan_bomb.jpg");
        Assert.Equal(ImageDecodeError.Corrupt, e.Reason);
        Assert.Contains("more than 500 scans", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");   // a guard against hanging, not a benchmark
    }

    [Fact]
    public void A_jpeg_cut_short_after_an_earlier_warning_is_Truncated_not_half_gray()
    {
        // libjpeg reports only its first warning (a misnumbered restart marker), not the premature end after it.
        var e = Fixtures.DecodeFails("warned_then_truncated.jpg");
        Assert.Equal(ImageDecodeError.Truncated, e.Reason);
        Assert.Contains("end-of-image marker", e.Message);
        Assert.Contains("RST", e.Message);
        Assert.False(HasEndOfImage(Fixtures.Bytes("warned_then_truncated.jpg")));
        Assert.True(HasEndOfImage(Fixtures.Bytes("gradient.jpg")));
        // Data after the image holding a scan marker but no end marker (a motion photo's video): the image's own end counts.
        Assert.True(HasEndOfImage([.. Fixtures.Bytes("gradient.jpg"), .. "ftypmp42"u8, 0xFF, 0xDA, 0x00, 0x0C, 0x42]));
    }

    private static bool HasEndOfImage(byte[] data) => Codecs.JpegCodec.HasEndOfImage(data, Headers.JpegHeader.Read(data));

    [Fact]
    public void A_jpeg_whose_fatal_error_follows_a_warning_is_Corrupt_not_an_image_of_unwritten_rows()
    {
        // TurboJPEG reports the fatal error (an undefined quantization table) with the warning code of the JFIF 2.x
        // warning before it; taken as a warning, the decode returned rows it never wrote.
        var e = Fixtures.DecodeFails("warned_then_fatal.jpg");
        Assert.Equal(ImageDecodeError.Corrupt, e.Reason);
        Assert.Contains("Quantization table 0x03 was not defined", e.Message);
    }

    [Fact]
    public void A_jpeg_whose_header_only_warns_decodes_with_a_note()
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("jfif_version_2.jpg"));
        Assert.Equal((64, 64), (image.Width, image.Height));
        Assert.Equal(["JPEG: JFIF version 2.01 read as 1.01"], image.Notes);
        Fixtures.AssertPixel(image, 5, 5, (255, 0, 0), tolerance: 8);
    }

    [Fact]
    public async Task A_fifo_or_device_named_like_an_image_is_NotAFile_without_being_opened()
    {
        var dir = Directory.CreateTempSubdirectory("nfc-fifo-");
        try
        {
            var fifo = Path.Combine(dir.FullName, "field.jpg");
            using (var mkfifo = Process.Start("mkfifo", fifo)) await mkfifo.WaitForExitAsync();
            // Opening it would block until a writer comes: the decode must return at once.
            var decode = Task.Run(() => new ImageDecoder().DecodeFile(fifo));
            var e = await Assert.ThrowsAsync<ImageDecodeException>(() => decode.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(ImageDecodeError.NotAFile, e.Reason);
            Assert.Contains("not a regular file", e.Message);

            Assert.Equal(ImageDecodeError.NotAFile, Assert.Throws<ImageDecodeException>(() => new ImageDecoder().DecodeFile("/dev/zero")).Reason);
            Assert.True(FileTypes.IsRegularFileOrUnknown(Fixtures.Path("gradient.jpg")));
            Assert.True(FileTypes.IsRegularFileOrUnknown(Path.Combine(dir.FullName, "missing.jpg")));   // the open says what is wrong
        }
        finally { dir.Delete(recursive: true); }
    }
}
