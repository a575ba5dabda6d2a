using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Tests;

/// <summary>TIFF orientations and alpha layouts, on small uncompressed files written here byte by byte.</summary>
public class TiffVariantTests
{
    /// <summary>A classic little-endian TIFF: one uncompressed strip, 8 bits per sample, chunky samples.</summary>
    private static byte[] Tiff(int width, int height, int samples, ushort photometric, byte[] pixels, ushort orientation = 1, ushort? extraSample = null,
        int privateTags = 0, ushort? sampleFormat = null)
    {
        var tags = new List<(ushort Tag, ushort Type, uint Count, uint Value)>();
        int entries = 11 + (extraSample is null ? 0 : 1) + (sampleFormat is null ? 0 : 1) + privateTags;
        int ifdEnd = 8 + 2 + entries * 12 + 4;
        int bitsAt = ifdEnd, pixelsAt = bitsAt + 2 * samples;
        tags.Add((256, 4, 1, (uint)width));
        tags.Add((257, 4, 1, (uint)height));
        tags.Add((258, 3, (uint)samples, samples <= 2 ? 8u | (samples == 2 ? 8u << 16 : 0) : (uint)bitsAt));
        tags.Add((259, 3, 1, 1));
        tags.Add((262, 3, 1, photometric));
        tags.Add((273, 4, 1, (uint)pixelsAt));
        tags.Add((274, 3, 1, orientation));
        tags.Add((277, 3, 1, (uint)samples));
        tags.Add((278, 4, 1, (uint)height));
        tags.Add((279, 4, 1, (uint)pixels.Length));
        tags.Add((284, 3, 1, 1));
        if (extraSample is { } extra) tags.Add((338, 3, 1, extra));
        if (sampleFormat is { } format) tags.Add((339, 3, 1, format));
        for (int t = 0; t < privateTags; t++) tags.Add((checked((ushort)(65000 + t)), 3, 1, 1));   // unknown to libtiff: a warning each
        var file = new byte[pixelsAt + pixels.Length];
        WriteHeaderAndIfd(file, tags);
        for (int s = 0; s < samples && samples > 2; s++) BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(bitsAt + 2 * s), 8);
        pixels.CopyTo(file, pixelsAt);
        return file;
    }

    /// <summary>A little-endian header pointing at one IFD at offset 8, with the tags as given (values inline).</summary>
    private static void WriteHeaderAndIfd(byte[] file, IReadOnlyList<(ushort Tag, ushort Type, uint Count, uint Value)> tags)
    {
        "II*\0"u8.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(4), 8);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), (ushort)tags.Count);
        for (int i = 0; i < tags.Count; i++)
        {
            var e = file.AsSpan(10 + 12 * i);
            BinaryPrimitives.WriteUInt16LittleEndian(e, tags[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(e[2..], tags[i].Type);
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], tags[i].Count);
            if (tags[i].Type == 3 && tags[i].Count == 1) BinaryPrimitives.WriteUInt16LittleEndian(e[8..], (ushort)tags[i].Value);
            else BinaryPrimitives.WriteUInt32LittleEndian(e[8..], tags[i].Value);
        }
    }

    private const int W = 96, H = 64;   // the decoder's minimum side is 64

    /// <summary>96×64 RGB with red, green, blue and white quadrants (TL, TR, BL, BR), as the EXIF fixtures.</summary>
    private static byte[] Quadrants()
    {
        var rgb = new byte[W * H * 3];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                (byte r, byte g, byte b) = (x < W / 2, y < H / 2) switch
                {
                    (true, true) => ((byte)255, (byte)0, (byte)0),
                    (false, true) => ((byte)0, (byte)255, (byte)0),
                    (true, false) => ((byte)0, (byte)0, (byte)255),
                    _ => ((byte)255, (byte)255, (byte)255),
                };
                int o = (y * W + x) * 3;
                (rgb[o], rgb[o + 1], rgb[o + 2]) = (r, g, b);
            }
        return rgb;
    }

    [Theory]
    [MemberData(nameof(ExifOrientationTests.Corners), MemberType = typeof(ExifOrientationTests))]
    public void The_orientation_tag_is_applied_as_EXIF_orientations_are(int orientation, (int, int, int) topLeft, (int, int, int) topRight,
        (int, int, int) bottomLeft, (int, int, int) bottomRight)
    {
        var decoder = new ImageDecoder();
        var file = Tiff(W, H, 3, 2, Quadrants(), (ushort)orientation);
        var image = decoder.Decode(file);

        var expectedSize = orientation >= 5 ? (H, W) : (W, H);
        Assert.Equal(expectedSize, (image.Width, image.Height));
        Assert.Equal(expectedSize, (decoder.ReadHeader(file).Width, decoder.ReadHeader(file).Height));
        Fixtures.AssertPixel(image, 0, 0, topLeft);
        Fixtures.AssertPixel(image, image.Width - 1, 0, topRight);
        Fixtures.AssertPixel(image, 0, image.Height - 1, bottomLeft);
        Fixtures.AssertPixel(image, image.Width - 1, image.Height - 1, bottomRight);
        if (orientation != 1) Assert.Contains($"TIFF orientation {orientation} applied", image.Notes);
    }

    [Theory]
    [InlineData((ushort)1, null)]
    [InlineData((ushort)4, null)]
    [InlineData((ushort)2, "signed integer")]
    [InlineData((ushort)5, "complex integer")]
    public void Signed_and_complex_integer_samples_are_Unsupported_not_read_as_unsigned(ushort sampleFormat, string? refused)
    {
        // libtiff's RGBA reader took a signed sample as unsigned: a stored -100 came out bright, +100 dark.
        var pixels = Enumerable.Range(0, 64 * 64).Select(i => (byte)(i % 2 == 0 ? 100 : 156)).ToArray();
        var tiff = Tiff(64, 64, 1, 1, pixels, sampleFormat: sampleFormat);
        if (refused is null)
        {
            Fixtures.AssertPixel(new ImageDecoder().Decode(tiff), 0, 0, (100, 100, 100));
            return;
        }
        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(tiff));
        Assert.Equal(ImageDecodeError.Unsupported, e.Reason);
        Assert.Contains(refused, e.Message);
    }

    [Fact]
    public void Grey_with_unassociated_alpha_keeps_its_grey()
    {
        // libtiff passes grey and alpha through as stored (it premultiplies RGB only); dividing by alpha brightened it.
        var pixels = Enumerable.Range(0, 64 * 64).SelectMany(_ => new byte[] { 100, 128 }).ToArray();
        var image = new ImageDecoder().Decode(Tiff(64, 64, 2, 1, pixels, extraSample: 2));
        Fixtures.AssertPixel(image, 3, 3, (100, 100, 100));
        Assert.Contains("alpha channel dropped", image.Notes);
    }

    [Theory]
    [InlineData(128)]
    [InlineData(3)]     // premultiplied and divided back: (170, 85, 85)
    [InlineData(0)]     // premultiplied to black
    public void RGB_with_unassociated_alpha_keeps_its_colour_whatever_the_alpha(byte alpha)
    {
        var pixels = Enumerable.Range(0, 64 * 64).SelectMany(_ => new byte[] { 200, 100, 50, alpha }).ToArray();
        var image = new ImageDecoder().Decode(Tiff(64, 64, 4, 2, pixels, extraSample: 2));
        Fixtures.AssertPixel(image, 3, 3, (200, 100, 50));
        Assert.Contains("alpha channel dropped", image.Notes);
    }

    [Fact]
    public void Planar_grey_with_unassociated_alpha_keeps_its_grey()
    {
        // libtiff premultiplies planar grey with alpha too, and nothing undid it: 100 under alpha 128 came out 50.
        var image = new ImageDecoder().Decode(PlanarGreyAlpha(64, 64, 100, 128));
        Fixtures.AssertPixel(image, 3, 3, (100, 100, 100));
    }

    [Theory]
    [InlineData(0, 255)]      // MinIsWhite: 0 is white
    [InlineData(200, 55)]
    public void Planar_min_is_white_grey_with_alpha_is_not_a_negative(byte stored, byte shown)
    {
        // libtiff reads separate planes as RGB, without MinIsWhite's inverting map: white came out black, silently.
        var image = new ImageDecoder().Decode(PlanarGreyAlpha(64, 64, stored, 255, photometric: 0));
        Fixtures.AssertPixel(image, 3, 3, (shown, shown, shown));
        // In one plane libtiff inverts it itself.
        var contiguous = Enumerable.Range(0, 64 * 64).SelectMany(_ => new byte[] { stored, 255 }).ToArray();
        Fixtures.AssertPixel(new ImageDecoder().Decode(Tiff(64, 64, 2, 0, contiguous, extraSample: 2)), 3, 3, (shown, shown, shown));
    }

    /// <summary>A grey plane and an unassociated-alpha plane (PlanarConfiguration 2), one strip each.</summary>
    private static byte[] PlanarGreyAlpha(int width, int height, byte grey, byte alpha, ushort photometric = 1)
    {
        int plane = width * height;
        const int entries = 11, ifdEnd = 8 + 2 + entries * 12 + 4, offsetsAt = ifdEnd, countsAt = ifdEnd + 8, pixelsAt = ifdEnd + 16;
        var file = new byte[pixelsAt + 2 * plane];
        WriteHeaderAndIfd(file,
        [
            (256, 4, 1, (uint)width), (257, 4, 1, (uint)height), (258, 3, 2, 8u | 8u << 16), (259, 3, 1, 1), (262, 3, 1, photometric),
            (273, 4, 2, offsetsAt), (277, 3, 1, 2), (278, 4, 1, (uint)height), (279, 4, 2, countsAt), (284, 3, 1, 2), (338, 3, 1, 2),
        ]);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offsetsAt), (uint)pixelsAt);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offsetsAt + 4), (uint)(pixelsAt + plane));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(countsAt), (uint)plane);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(countsAt + 4), (uint)plane);
        file.AsSpan(pixelsAt, plane).Fill(grey);
        file.AsSpan(pixelsAt + plane, plane).Fill(alpha);
        return file;
    }

    [Fact]
    public void A_jpeg_compressed_tiff_decodes_and_its_damaged_strips_fail_as_a_jpeg_would()
    {
        // Red follows x, green y, blue 90 (make_corpus.py, jpeg_tiffs); JPEG moves values by a few levels.
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("jpeg_in_tiff.tif"));
        Assert.Equal((256, 256), (image.Width, image.Height));
        Fixtures.AssertPixel(image, 200, 40, (200, 40, 90), tolerance: 6);

        // libtiff returned both with only a warning: half the image gray, or decoded from garbage.
        var cut = Fixtures.DecodeFails("jpeg_in_tiff_strip_cut.tif");
        Assert.Equal(ImageDecodeError.Truncated, cut.Reason);
        Assert.Contains("Premature end of JPEG file", cut.Message);
        var damaged = Fixtures.DecodeFails("jpeg_in_tiff_damaged.tif");
        Assert.Equal(ImageDecodeError.Corrupt, damaged.Reason);
        Assert.Contains("premature end of data segment", damaged.Message);
    }

    [Fact]
    public void A_fax_compressed_tiff_decodes_and_one_whose_strip_ends_early_is_Truncated()
    {
        // CCITT Group 4, min-is-white (make_corpus.py, fax_tiffs): a set bit is black.
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("fax4.tif"));
        Assert.Equal((256, 256), (image.Width, image.Height));
        Fixtures.AssertPixel(image, 0, 0, (0, 0, 0), tolerance: 0);
        Fixtures.AssertPixel(image, 1, 0, (0, 0, 0), tolerance: 0);
        Fixtures.AssertPixel(image, 5, 0, (255, 255, 255), tolerance: 0);

        // libtiff warned "Premature EOF" and filled the rows from there on white: an image two thirds blank.
        var cut = Fixtures.DecodeFails("fax4_strip_cut.tif");
        Assert.Equal(ImageDecodeError.Truncated, cut.Reason);
        Assert.Contains("Premature EOF at line", cut.Message);
    }

    [Fact]
    public void A_fax_strip_with_damaged_codes_fails_rather_than_decoding_to_other_pixels()
    {
        // A bad code word is an error libtiff may decode past, and a lost line a "Premature EOL" warning: such files
        // decoded, shifted or blank from the damage on, with a note.
        var decoder = new ImageDecoder();
        var original = decoder.DecodeFile(Fixtures.Path("fax4.tif")).Pixels;
        var whole = Fixtures.Bytes("fax4.tif");
        for (int at = 300; at < 11_000; at += 700)
        {
            var damaged = (byte[])whole.Clone();
            damaged[at] ^= 0x5A;
            damaged[at + 1] ^= 0xA5;
            try { Assert.True(original.AsSpan().SequenceEqual(decoder.Decode(damaged).Pixels), $"damage at {at} decoded to other pixels"); }
            catch (ImageDecodeException e) { Assert.True(e.Reason is ImageDecodeError.Corrupt or ImageDecodeError.Truncated, e.Message); }
        }
    }

    [Fact]
    public void The_size_limits_apply_to_a_turned_tiffs_displayed_size_and_a_LONG_orientation_counts()
    {
        // Stored 96 wide and 64 high, displayed 64×96 under orientation 6, as the JPEG test of the same limits.
        var decoder = new ImageDecoder(new ImageDecodeOptions { MinWidth = 64, MinHeight = 90 });
        byte[] turned = Tiff(96, 64, 3, 2, new byte[96 * 64 * 3], orientation: 6);
        Assert.Equal((64, 96), (decoder.Decode(turned).Width, decoder.Decode(turned).Height));
        Assert.Equal((64, 96), (decoder.ReadHeader(turned).Width, decoder.ReadHeader(turned).Height));

        // The Orientation tag written as LONG (type 4), which libtiff reads too: the header probe agrees with the decode.
        for (int e = 10; ; e += 12)
            if (BinaryPrimitives.ReadUInt16LittleEndian(turned.AsSpan(e)) == 274) { BinaryPrimitives.WriteUInt16LittleEndian(turned.AsSpan(e + 2), 4); break; }
        Assert.Equal((64, 96), (decoder.ReadHeader(turned).Width, decoder.ReadHeader(turned).Height));
        Assert.Equal((64, 96), (decoder.Decode(turned).Width, decoder.Decode(turned).Height));
    }

    [Theory]
    [InlineData(274, 1)]   // Orientation as BYTE: the probe ignored it and reported 96×64 for a 64×96 decode
    [InlineData(274, 8)]   // as SSHORT
    [InlineData(256, 8)]   // ImageWidth as SSHORT: refused as Corrupt, a file libtiff reads
    [InlineData(256, 1)]   // as BYTE
    [InlineData(257, 9)]   // ImageLength as SLONG
    public void Integer_tags_in_any_integer_type_libtiff_reads_are_read_by_the_header_probe_too(ushort tag, ushort type)
    {
        byte[] file = Tiff(96, 64, 3, 2, new byte[96 * 64 * 3], orientation: 6);
        for (int e = 10; ; e += 12)
            if (BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(e)) == tag) { BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(e + 2), type); break; }
        var decoder = new ImageDecoder();
        var decoded = decoder.Decode(file);
        Assert.Equal((64, 96), (decoded.Width, decoded.Height));
        Assert.Equal((64, 96, 6), (decoder.ReadHeader(file).Width, decoder.ReadHeader(file).Height, decoder.ReadHeader(file).ExifOrientation));
    }

    [Fact]
    public void An_orientation_tag_of_two_values_is_dropped_by_the_probe_as_by_libtiff()
    {
        // libtiff ignores an Orientation whose count is not 1: the probe had applied it and said 64×96 for a 96×64 decode.
        byte[] file = Tiff(96, 64, 3, 2, new byte[96 * 64 * 3], orientation: 6);
        for (int e = 10; ; e += 12)
            if (BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(e)) == 274) { BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(e + 4), 2); break; }
        var decoder = new ImageDecoder();
        var decoded = decoder.Decode(file);
        Assert.Equal((decoded.Width, decoded.Height), (decoder.ReadHeader(file).Width, decoder.ReadHeader(file).Height));
        Assert.Equal((96, 64), (decoded.Width, decoded.Height));
    }

    [Fact]
    public void A_negative_width_is_Corrupt()
    {
        byte[] file = Tiff(96, 64, 3, 2, new byte[96 * 64 * 3]);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(10 + 2), 8);          // ImageWidth as SSHORT ...
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(10 + 8), 0xFFA0);     // ... of -96
        var error = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().ReadHeader(file));
        Assert.Equal((ImageDecodeError.Corrupt, "TIFF: tag 256 is -96"), (error.Reason, error.Detail));
    }

    [Fact]
    public void A_tiff_that_draws_hundreds_of_warnings_keeps_a_bounded_number_of_notes()
    {
        // Each unknown tag draws libtiff's "Unknown field with tag …" warning; the notes travel with the result.
        var image = new ImageDecoder().Decode(Tiff(W, H, 3, 2, new byte[W * H * 3], privateTags: 300));
        int warnings = image.Notes.Count(n => n.StartsWith("libtiff warning:", StringComparison.Ordinal));
        Assert.InRange(warnings, 1, Codecs.TiffMessages.MaxWarnings);
    }

    [Fact]
    public void A_fax_strip_warning_on_every_line_is_Corrupt_with_a_bounded_number_of_messages_kept()
    {
        // Each of 20,000 CCITT RLE lines codes 128 white pixels for a width of 64: libtiff warns once per line, each
        // message naming its line. All were kept (damage bypassed the cap), each checked against all before it: a file
        // of a million such lines took hours and hundreds of MB.
        const int width = 64, height = 20_000, pixelsAt = 8 + 2 + 9 * 12 + 4;
        var file = new byte[pixelsAt + 2 * height];
        WriteHeaderAndIfd(file, [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 1), (259, 3, 1, 2), (262, 3, 1, 0),
            (273, 4, 1, pixelsAt), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 2 * height)]);
        for (int row = 0; row < height; row++) (file[pixelsAt + 2 * row], file[pixelsAt + 2 * row + 1]) = (0x91, 0xA8);   // white 128, white 0

        var error = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(file));

        Assert.Equal(ImageDecodeError.Corrupt, error.Reason);
        Assert.Contains("Line length mismatch", error.Message);
        Assert.InRange(Codecs.TiffMessages.Warnings.Count + Codecs.TiffMessages.Errors.Count, 1, 2 * Codecs.TiffMessages.MaxWarnings + 1);
    }

    /// <summary>
    /// RGB pages, uncompressed, each with its NewSubfileType (1: a reduced-resolution preview), in the order given:
    /// as capture software that writes a preview before the full image does.
    /// </summary>
    private static byte[] Pages(params (int Width, int Height, uint SubfileType, (byte, byte, byte) Colour)[] pages)
    {
        const int entries = 11, ifdSize = 2 + entries * 12 + 4;
        int at = 8;
        var ifds = new List<int>();
        foreach (var _ in pages) { ifds.Add(at); at += ifdSize + 6; }   // each IFD, then its BitsPerSample array
        var pixelsAt = new List<int>();
        foreach (var page in pages) { pixelsAt.Add(at); at += page.Width * page.Height * 3; }
        var file = new byte[at];
        "II*\0"u8.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(4), 8);
        for (int p = 0; p < pages.Length; p++)
        {
            var (w, h, subfile, (r, g, b)) = pages[p];
            int ifd = ifds[p], bits = ifd + ifdSize, size = w * h * 3;
            (ushort Tag, ushort Type, uint Count, uint Value)[] tags =
            [
                (254, 4, 1, subfile), (256, 4, 1, (uint)w), (257, 4, 1, (uint)h), (258, 3, 3, (uint)bits), (259, 3, 1, 1), (262, 3, 1, 2),
                (273, 4, 1, (uint)pixelsAt[p]), (277, 3, 1, 3), (278, 4, 1, (uint)h), (279, 4, 1, (uint)size), (284, 3, 1, 1),
            ];
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(ifd), entries);
            for (int i = 0; i < entries; i++)
            {
                var e = file.AsSpan(ifd + 2 + 12 * i);
                BinaryPrimitives.WriteUInt16LittleEndian(e, tags[i].Tag);
                BinaryPrimitives.WriteUInt16LittleEndian(e[2..], tags[i].Type);
                BinaryPrimitives.WriteUInt32LittleEndian(e[4..], tags[i].Count);
                if (tags[i].Type == 3 && tags[i].Count == 1) BinaryPrimitives.WriteUInt16LittleEndian(e[8..], (ushort)tags[i].Value);
                else BinaryPrimitives.WriteUInt32LittleEndian(e[8..], tags[i].Value);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(ifd + 2 + 12 * entries), p + 1 < pages.Length ? (uint)ifds[p + 1] : 0);
            for (int s = 0; s < 3; s++) BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(bits + 2 * s), 8);
            for (int o = pixelsAt[p]; o < pixelsAt[p] + size; o += 3) (file[o], file[o + 1], file[o + 2]) = (r, g, b);
        }
        return file;
    }

    [Fact]
    public void A_reduced_resolution_preview_and_a_mask_before_the_full_image_are_passed_over()
    {
        // Decoding the first directory analysed a 64-pixel preview as the field, at the full image's µm per pixel.
        var decoder = new ImageDecoder();
        var file = Pages((64, 64, 1, (0, 0, 255)), (160, 120, 4, (0, 0, 0)), (160, 120, 0, (200, 30, 30)), (64, 64, 0, (0, 255, 0)));

        var image = decoder.Decode(file);

        Assert.Equal((160, 120), (image.Width, image.Height));
        Fixtures.AssertPixel(image, 80, 60, (200, 30, 30));
        Assert.Contains("TIFF: page 3 of 4 used (the pages before it are reduced-resolution previews)", image.Notes);
        var header = decoder.ReadHeader(file);
        Assert.Equal((160, 120, 4), (header.Width, header.Height, header.PageCount));
    }

    [Fact]
    public void A_full_image_first_is_decoded_whatever_follows_it()
    {
        var image = new ImageDecoder().Decode(Pages((96, 64, 0, (200, 30, 30)), (64, 64, 1, (0, 0, 255))));
        Assert.Equal((96, 64), (image.Width, image.Height));
        Fixtures.AssertPixel(image, 10, 10, (200, 30, 30));
        Assert.Contains("multi-page TIFF (2 pages): first page used", image.Notes);
    }

    [Fact]
    public void Only_previews_decode_the_first()
    {
        var image = new ImageDecoder().Decode(Pages((96, 64, 1, (0, 0, 255)), (64, 64, 1, (0, 255, 0))));
        Assert.Equal((96, 64), (image.Width, image.Height));
        Fixtures.AssertPixel(image, 10, 10, (0, 0, 255));
        Assert.Contains("TIFF: only reduced-resolution previews found; the first decoded (its scale may not be the field's µm per pixel)", image.Notes);
    }

    [Fact]
    public void A_rare_compression_in_a_preview_before_the_full_image_is_refused_too()
    {
        // libtiff readies the first directory's codec as it opens the file: a preview in ThunderScan before an
        // uncompressed full image was decoded, the check made only on the directory decoded.
        var file = Pages((64, 64, 1, (0, 0, 255)), (160, 120, 0, (200, 30, 30)));
        TiffTagPatch.Set(file, 0, 259, TiffTagPatch.Short, 32809);

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(file));

        Assert.Equal(ImageDecodeError.Unsupported, e.Reason);
        Assert.Contains("compression 32809 is not read", e.Message);
    }
}
