namespace NfcPipeline.Imaging.Tests;

/// <summary>One test per corpus case, each asserting its exact outcome.</summary>
public class BadInputCorpusTests
{
    [Fact]
    public void Zero_byte_file_is_Empty()
    {
        Assert.Equal(ImageDecodeError.Empty, Fixtures.DecodeFails("empty.jpg").Reason);
        Assert.Equal(ImageDecodeError.Empty, Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode([])).Reason);
    }

    [Fact]
    public void Truncated_jpeg_is_Truncated_not_a_gray_filled_image()
    {
        // Cut inside its one scan: decoded with an end-of-image marker appended, the scan still ends early.
        var e = Fixtures.DecodeFails("truncated.jpg");
        Assert.Equal(ImageDecodeError.Truncated, e.Reason);
        Assert.Contains("the file ends inside its scan", e.Message);
    }

    [Fact]
    public void Png_with_bad_idat_crc_is_Corrupt()
    {
        var e = Fixtures.DecodeFails("bad_crc.png");
        Assert.Equal(ImageDecodeError.Corrupt, e.Reason);
        Assert.Contains("CRC", e.Message);
    }

    [Fact]
    public void Truncated_png_is_Truncated()
    {
        Assert.Equal(ImageDecodeError.Truncated, Fixtures.DecodeFails("truncated.png").Reason);
    }

    [Fact]
    public void Text_file_named_jpg_is_Unsupported()
    {
        var e = Fixtures.DecodeFails("text_named.jpg");
        Assert.Equal(ImageDecodeError.Unsupported, e.Reason);
        Assert.Null(ImageDecoder.Sniff(Fixtures.Bytes("text_named.jpg")));
    }

    [Fact]
    public void Lzw_rgba_tiff_named_jpg_decodes_as_tiff()
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("tiff_named.jpg"));

        Assert.Equal(ImageFormat.Tiff, image.SourceFormat);
        Assert.Equal((1280, 1024), (image.Width, image.Height));
        // Lossless: each 128-pixel block holds exactly (90, by/4, bx/5) as written.
        foreach (var (x, y) in new[] { (0, 0), (130, 5), (1279, 1023), (640, 512), (1000, 300) })
        {
            int bx = x / 128 * 128, by = y / 128 * 128;
            Fixtures.AssertPixel(image, x, y, (90, by / 4 % 256, bx / 5 % 256));
        }
        // OpenCV-style RGBA TIFFs omit ExtraSamples; libtiff's warning is kept as a note, not printed to stderr.
        Assert.Equal(
            ["alpha channel dropped", "libtiff warning: TIFFReadDirectory: Sum of Photometric type-related color channels and ExtraSamples doesn't match SamplesPerPixel. Defining non-color channels as ExtraSamples."],
            image.Notes);
    }

    [Fact]
    public void Sixteen_bit_png_is_scaled_to_eight_bits_without_gamma()
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("rgb16.png"));

        Assert.Equal((64, 64, ImageFormat.Png), (image.Width, image.Height, image.SourceFormat));
        Fixtures.AssertPixel(image, 0, 0, (0, 100, 255));      // stored 0, 25700, 65535
        Fixtures.AssertPixel(image, 63, 63, (4, 127, 254));    // stored 1000, 32767, 65278
        Assert.Contains("16-bit PNG reduced to 8-bit", image.Notes);
    }

    [Fact]
    public void Gray_jpeg_becomes_rgb_with_equal_channels()
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("gray.jpg"));

        Assert.Equal((96, 64, ImageFormat.Jpeg), (image.Width, image.Height, image.SourceFormat));
        for (int i = 0; i < image.Pixels.Length; i += 3)
            Assert.True(image.Pixels[i] == image.Pixels[i + 1] && image.Pixels[i] == image.Pixels[i + 2]);
        Fixtures.AssertPixel(image, 10, 32, (60, 60, 60), tolerance: 2);
        Fixtures.AssertPixel(image, 80, 32, (190, 190, 190), tolerance: 2);
        Assert.Contains("gray JPEG expanded to RGB", image.Notes);
    }

    [Fact]
    public void Cmyk_jpeg_is_converted_to_rgb()
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("cmyk.jpg"));

        Assert.Equal((64, 64, ImageFormat.Jpeg), (image.Width, image.Height, image.SourceFormat));
        Fixtures.AssertPixel(image, 8, 8, (255, 0, 0), tolerance: 6);
        Fixtures.AssertPixel(image, 56, 8, (0, 255, 0), tolerance: 6);
        Fixtures.AssertPixel(image, 8, 56, (0, 0, 255), tolerance: 6);
        Fixtures.AssertPixel(image, 56, 56, (128, 128, 128), tolerance: 6);
        Assert.Contains(image.Notes, n => n.StartsWith("CMYK JPEG converted to RGB (Adobe inverted CMYK", StringComparison.Ordinal));
    }

    [Fact]
    public void A_cmyk_jpeg_whose_Adobe_segment_is_too_short_for_libjpeg_is_read_as_plain_CMYK()
    {
        // libjpeg counts an APP14 "Adobe" segment of 12 bytes or more only; a shorter one was taken as Adobe's inverted
        // CMYK by the converter while libjpeg read plain CMYK: a colour negative.
        byte[] file = Fixtures.Bytes("cmyk.jpg");
        int at = file.AsSpan().IndexOf("Adobe"u8) - 4;   // FF EE, then the length
        Assert.Equal((0xFF, 0xEE), (file[at], file[at + 1]));
        int length = file[at + 2] << 8 | file[at + 3];
        byte[] shortened = [.. file[..(at + 2)], 0x00, 0x08, .. "Adobe\0"u8, .. file[(at + 2 + length)..]];

        var image = new ImageDecoder().Decode(shortened);

        Assert.Contains("CMYK JPEG converted to RGB (plain CMYK, no colour management)", image.Notes);
    }

    [Fact]
    public void Palette_png_expands_to_its_palette_colours()
    {
        var image = new ImageDecoder().DecodeFile(Fixtures.Path("palette.png"));

        Assert.Equal((64, 64, ImageFormat.Png), (image.Width, image.Height, image.SourceFormat));
        Fixtures.AssertPixel(image, 0, 0, (200, 30, 40));
        Fixtures.AssertPixel(image, 63, 0, (20, 180, 60));
        Fixtures.AssertPixel(image, 0, 63, (10, 40, 220));
        Fixtures.AssertPixel(image, 63, 63, (250, 250, 250));
    }

    [Theory]
    [InlineData("huge_header.png")]
    [InlineData("huge_header.tif")]
    [InlineData("huge_header.bmp")]
    [InlineData("huge_header.jpg")]
    public void Header_declaring_a_bomb_is_TooLarge_before_any_pixel_allocation(string name)
    {
        byte[] data = Fixtures.Bytes(name);
        var decoder = new ImageDecoder();
        decoder.ReadHeader(data); // warm up code paths so that the measurement sees only the decode attempt

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageDecodeException>(() => decoder.Decode(data));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(ImageDecodeError.TooLarge, e.Reason);
        Assert.True(allocated < 256 * 1024, $"{allocated} bytes allocated while refusing the header");
    }

    [Fact]
    public void Ten_by_ten_image_is_TooSmall()
    {
        var e = Fixtures.DecodeFails("tiny_10x10.png");
        Assert.Equal(ImageDecodeError.TooSmall, e.Reason);
        Assert.Contains("10x10", e.Message);
    }

    [Fact]
    public void Directory_named_like_an_image_is_NotAFile()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"nfc-imaging-{Guid.NewGuid():N}", "x.jpg");
        Directory.CreateDirectory(dir);
        try
        {
            var decoder = new ImageDecoder();
            Assert.Equal(ImageDecodeError.NotAFile, Assert.Throws<ImageDecodeException>(() => decoder.DecodeFile(dir)).Reason);
            Assert.Equal(ImageDecodeError.NotAFile, Assert.Throws<ImageDecodeException>(() => decoder.ReadHeaderFile(dir)).Reason);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true);
        }
    }

    [Fact]
    public void File_denied_to_this_user_is_Unreadable()
    {
        // root ignores mode bits on ordinary files, but procfs still refuses to read a write-only sysctl.
        bool isRoot = GetEuid() == 0;
        string path = isRoot ? "/proc/sys/vm/drop_caches" : CreateUnreadableFile();
        try
        {
            var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().DecodeFile(path));
            Assert.Equal(ImageDecodeError.Unreadable, e.Reason);
            Assert.IsType<UnauthorizedAccessException>(e.InnerException);
        }
        finally
        {
            if (!isRoot)
                File.Delete(path);
        }
    }

    [Fact]
    public void Permission_error_from_the_file_system_maps_to_Unreadable()
    {
        var decoder = new ImageDecoder(null, _ => throw new UnauthorizedAccessException("Access to the path is denied."));

        var e = Assert.Throws<ImageDecodeException>(() => decoder.DecodeFile("/data/study/p1/denied.jpg"));

        Assert.Equal(ImageDecodeError.Unreadable, e.Reason);
        Assert.Contains("permission denied", e.Message);
        Assert.DoesNotContain("p1", e.Message);   // stored beside the image: no patient folder in it
    }

    [Fact]
    public void File_errors_name_neither_the_file_nor_its_folder()
    {
        // The path holds the patient's folder, often the patient's name; .NET's own messages quote it.
        const string path = "/share/S1/Doe Jane/L2/f1.jpg";
        foreach (var error in new Exception[]
        {
            new IOException($"Could not find a part of the path '{path}'."), new IOException("Input/output error : '/share/S1/Doe Jane/L2'"),
            new FileNotFoundException($"Could not find file '{path}'."), new UnauthorizedAccessException($"Access to the path '{path}' is denied."),
            new NotSupportedException($"'{path}' is a FIFO"),
        })
            Assert.DoesNotContain("Doe", ImageDecoder.MapFileException(error, path)!.Message);
        // .NET quotes the full path: "./", ".." and "//" resolved, a relative one made absolute.
        foreach (var given in new[] { "/share/S1/./Doe Jane//L2/../L2/f1.jpg", "S1/Doe Jane/L2/f1.jpg" })
        {
            var quoted = new IOException($"Input/output error : '{Path.GetFullPath(given)}'");
            Assert.DoesNotContain("Doe", ImageDecoder.MapFileException(quoted, given)!.Message);
            var folderQuoted = new IOException($"Too many levels of symbolic links : '{Path.GetDirectoryName(Path.GetFullPath(given))}'");
            Assert.DoesNotContain("Doe", ImageDecoder.MapFileException(folderQuoted, given)!.Message);
        }
        var folder = Directory.CreateTempSubdirectory("Doe-Jane-");
        try { Assert.DoesNotContain("Doe", Assert.Throws<ImageDecodeException>(() => new ImageDecoder().DecodeFile(folder.FullName)).Message); }
        finally { folder.Delete(); }
    }

    [Fact]
    public void Io_errors_map_to_Unreadable_and_missing_files_too()
    {
        Assert.Equal(ImageDecodeError.Unreadable, ImageDecoder.MapFileException(new IOException("Input/output error"), "a.jpg")!.Reason);
        Assert.Equal(ImageDecodeError.Unreadable, ImageDecoder.MapFileException(new FileNotFoundException(), "a.jpg")!.Reason);
        Assert.Null(ImageDecoder.MapFileException(new InvalidOperationException(), "a.jpg"));
        string missing = Path.Combine(Path.GetTempPath(), $"nfc-imaging-{Guid.NewGuid():N}.jpg");
        Assert.Equal(ImageDecodeError.Unreadable, Assert.Throws<ImageDecodeException>(() => new ImageDecoder().DecodeFile(missing)).Reason);
    }

    private static string CreateUnreadableFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"nfc-imaging-{Guid.NewGuid():N}.jpg");
        File.Copy(Fixtures.Path("gray.jpg"), path);
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("the pipeline runs on Linux");
        File.SetUnixFileMode(path, UnixFileMode.None);
        return path;
    }

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "geteuid")]
    private static extern uint GetEuid();
}
