using System.Buffers.Binary;
using System.Text;

namespace NfcPipeline.Imaging.Tests;

/// <summary>PNG files whose gAMA, sRGB, iCCP or cHRM chunk libpng would apply: the stored values are analysed.</summary>
public class PngColourChunkTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        { "palette.png", "gAMA", "000186A0" },      // gamma 1.0: libpng brightened the palette (128 to 186)
        { "palette.png", "sRGB", "00" },
        { "rgb16.png", "sRGB", "00" },              // 16-bit read as linear: libpng darkened it
        { "rgb16.png", "gAMA", "0000B18F" },        // gamma 1/2.2
        { "rgba.png", "gAMA", "000186A0" },
        { "rgba.png", "cHRM", "00007A2500008083" + "0000F9FF000080E8" + "00007530" + "0000EA6000003A98" + "0000176F" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Colour_management_chunks_leave_the_stored_values_unchanged(string fixture, string chunk, string bodyHex)
    {
        var decoder = new ImageDecoder();
        byte[] plain = File.ReadAllBytes(Fixtures.Path(fixture));
        var expected = decoder.Decode(plain);

        var tagged = decoder.Decode(WithChunkAfterIhdr(plain, chunk, Convert.FromHexString(bodyHex)));

        Assert.Equal(expected.Pixels, tagged.Pixels);
        Assert.DoesNotContain(expected.Notes, n => n.Contains("colour management", StringComparison.Ordinal));
        // An 8-bit file's sRGB chunk changes nothing (libpng's own writer adds one): noted only where it would have.
        if (chunk == "sRGB" && fixture != "rgb16.png")
            Assert.DoesNotContain(tagged.Notes, n => n.Contains("colour management", StringComparison.Ordinal));
        else
            Assert.Contains($"PNG colour management ignored ({chunk}): the stored values are analysed", tagged.Notes);
    }

    [Fact]
    public void A_truncated_file_with_a_colour_chunk_still_fails_as_truncated()
    {
        byte[] tagged = WithChunkAfterIhdr(File.ReadAllBytes(Fixtures.Path("truncated.png")), "gAMA", Convert.FromHexString("000186A0"));
        var error = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(tagged));
        Assert.Equal(ImageDecodeError.Truncated, error.Reason);
    }

    [Fact]
    public void A_file_cut_after_its_image_data_keeps_its_stored_values_and_says_it_was_cut()
    {
        // Cut inside IEND: libpng reads no further than the last row, so it decoded with gAMA applied (128 came out 186).
        var decoder = new ImageDecoder();
        byte[] plain = File.ReadAllBytes(Fixtures.Path("palette.png"));
        byte[] tagged = WithChunkAfterIhdr(plain, "gAMA", Convert.FromHexString("000186A0"));
        var cut = decoder.Decode(tagged.AsSpan(0, tagged.Length - 6));
        Assert.Equal(decoder.Decode(plain).Pixels, cut.Pixels);
        Assert.Contains(cut.Notes, n => n.StartsWith("the file ends before its IEND chunk", StringComparison.Ordinal));
        Assert.Contains("PNG colour management ignored (gAMA): the stored values are analysed", cut.Notes);
    }

    [Fact]
    public void A_chunk_length_over_the_specifications_limit_is_Corrupt_not_a_file_cut_short()
    {
        // A flipped top bit in a length was read as a chunk running past the end: Truncated, and the operator copied
        // the file again instead of learning it is damaged.
        byte[] tagged = WithChunkAfterIhdr(File.ReadAllBytes(Fixtures.Path("palette.png")), "tEXt", "Comment\0x"u8.ToArray());
        int textLength = 8 + 8 + 13 + 4;   // the signature, IHDR's length and type, its data and CRC
        tagged[textLength] |= 0x80;
        var error = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(tagged));
        Assert.Equal(ImageDecodeError.Corrupt, error.Reason);
    }

    [Fact]
    public void Many_colour_chunks_are_named_once_in_the_note()
    {
        // Every chunk dropped was named: a crafted file of a million gAMA chunks made a note of megabytes.
        byte[] png = File.ReadAllBytes(Fixtures.Path("palette.png"));
        for (int i = 0; i < 500; i++) png = WithChunkAfterIhdr(png, "gAMA", Convert.FromHexString("000186A0"));
        png = WithChunkAfterIhdr(png, "cHRM", Convert.FromHexString("00007A2500008083" + "0000F9FF000080E8" + "00007530" + "0000EA6000003A98" + "0000176F"));

        var image = new ImageDecoder().Decode(png);

        Assert.Contains("PNG colour management ignored (cHRM, gAMA): the stored values are analysed", image.Notes);
    }

    /// <summary>The PNG with one more chunk (its CRC computed) right after IHDR, where colour chunks belong.</summary>
    private static byte[] WithChunkAfterIhdr(byte[] png, string type, byte[] body)
    {
        const int afterIhdr = 8 + 12 + 13;
        var chunk = new byte[12 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)body.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        body.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + body.Length), Crc32(chunk.AsSpan(4, 4 + body.Length)));
        return [.. png.AsSpan(0, afterIhdr), .. chunk, .. png.AsSpan(afterIhdr)];
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
