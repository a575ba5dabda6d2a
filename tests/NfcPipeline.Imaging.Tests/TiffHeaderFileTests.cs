using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Tests;

/// <summary>A TIFF's header read from a file reads its directories where they lie, not the whole file.</summary>
public class TiffHeaderFileTests
{
    private const int PixelBytes = 4 * 1024 * 1024;

    [Fact]
    public void A_header_at_the_end_of_a_large_TIFF_is_read_without_reading_the_pixels()
    {
        // libtiff writes a directory after its pixels: registration read every such file whole to learn its size.
        string path = WriteTiff(pages: 2);
        try
        {
            long read = 0;
            var decoder = new ImageDecoder(null, p => new CountingFileStream(p, n => read += n));

            var info = decoder.ReadHeaderFile(path);

            Assert.Equal(new ImageInfo(ImageFormat.Tiff, 1280, 1024, PageCount: 2), info);
            Assert.Equal(info, new ImageDecoder().ReadHeader(File.ReadAllBytes(path)));
            Assert.InRange(read, 1, 300 * 1024);   // the 256 KiB probe and the directories
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_directory_pointing_past_the_end_of_the_file_is_Truncated()
    {
        string path = WriteTiff(pages: 1, directoryBeyondEnd: true);
        try
        {
            var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().ReadHeaderFile(path));

            Assert.Equal(ImageDecodeError.Truncated, e.Reason);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(4u, ImageDecodeError.Corrupt, "the image directory's offset 4 lies inside the file header")]
    [InlineData(0u, ImageDecodeError.Truncated, "data ends inside the image directory")]   // a writer that never filled it in
    public void A_directory_offset_inside_the_header_is_damage_and_0_an_unfinished_file(uint offset, ImageDecodeError reason, string message)
    {
        byte[] data = new byte[64];
        "II*\0"u8.CopyTo(data);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), offset);
        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().ReadHeader(data));
        Assert.Equal(reason, e.Reason);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_bigtiff_directory_claiming_more_entries_than_any_writer_makes_is_damage()
    {
        byte[] data = new byte[64];
        "II+\0"u8.CopyTo(data);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(4), 8);   // offsets are 8 bytes
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8), 16);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16), 200_000);
        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().ReadHeader(data));
        Assert.Equal(ImageDecodeError.Corrupt, e.Reason);
        Assert.Contains("an image directory claims 200000 entries", e.Message);
    }

    /// <summary>A little-endian TIFF: header, 4 MiB standing in for pixels, then one directory per page.</summary>
    private static string WriteTiff(int pages, bool directoryBeyondEnd = false)
    {
        const int entrySize = 12, entries = 2, directorySize = 2 + entries * entrySize + 4;
        var data = new byte[8 + PixelBytes + pages * directorySize];
        "II*\0"u8.CopyTo(data);
        uint first = (uint)(8 + PixelBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), directoryBeyondEnd ? (uint)data.Length + 100 : first);
        for (int page = 0; page < pages; page++)
        {
            int at = (int)first + page * directorySize;
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(at), entries);
            WriteShortEntry(data.AsSpan(at + 2), 256, 1280);   // ImageWidth
            WriteShortEntry(data.AsSpan(at + 2 + entrySize), 257, 1024);   // ImageLength
            uint next = page + 1 < pages ? (uint)(at + directorySize) : 0;
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at + 2 + entries * entrySize), next);
        }
        string path = Path.Combine(Path.GetTempPath(), $"nfc-tiff-header-{Guid.NewGuid():N}.tif");
        File.WriteAllBytes(path, data);
        return path;
    }

    private static void WriteShortEntry(Span<byte> entry, ushort tag, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(entry, tag);
        BinaryPrimitives.WriteUInt16LittleEndian(entry[2..], 3);   // SHORT
        BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(entry[8..], value);
    }

    private sealed class CountingFileStream(string path, Action<int> counted) : FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read)
    {
        // A FileStream subclass's span reads come here (through Stream.Read(Span)).
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = base.Read(buffer, offset, count);
            counted(n);
            return n;
        }
    }
}
