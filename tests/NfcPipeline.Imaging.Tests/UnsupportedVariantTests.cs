using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Tests;

/// <summary>Variants of known formats that the decoder refuses, each with reason Unsupported.</summary>
public class UnsupportedVariantTests
{
    [Fact]
    public void Lossless_jpeg_process_is_Unsupported()
    {
        byte[] data = Fixtures.Bytes("gray.jpg");
        int sof = data.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        data[sof + 1] = 0xC3; // SOF3: lossless Huffman

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(data));

        Assert.Equal(ImageDecodeError.Unsupported, e.Reason);
    }

    [Theory]
    [InlineData(16, 0u)]  // 16-bit
    [InlineData(8, 1u)]   // RLE8
    [InlineData(24, 4u)]  // embedded JPEG
    public void Bmp_variants_outside_the_managed_decoder_are_Unsupported(int bits, uint compression)
    {
        byte[] data = Fixtures.Bytes("bottom_up_24.bmp");
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(28), (ushort)bits);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(30), compression);

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(data));

        Assert.Equal(ImageDecodeError.Unsupported, e.Reason);
    }

    [Theory]
    [InlineData(6)]       // old-style JPEG
    [InlineData(32809)]   // ThunderScan
    [InlineData(32909)]   // PixarLog
    [InlineData(34887)]   // LERC
    public void Tiff_compressions_outside_the_common_ones_are_refused_before_libtiff_decodes_them(int compression)
    {
        // A fault in one of libtiff's rarely used decoders would end the worker, not fail one image.
        byte[] data = Fixtures.Bytes("fax4.tif");
        TiffTagPatch.Set(data, 0, 259, TiffTagPatch.Short, (uint)compression);

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(data));

        Assert.Equal(ImageDecodeError.Unsupported, e.Reason);
        Assert.Contains($"compression {compression} is not read", e.Message);
    }

    [Fact]
    public void A_tiff_compression_of_several_values_is_refused_whatever_its_offset_looks_like()
    {
        // Three SHORTs do not fit the value field, which holds their offset: read as the value, an offset of 5 passed
        // as LZW while libtiff read the values where they lie (6, old-style JPEG) and ran that decoder.
        byte[] data = Fixtures.Bytes("fax4.tif");
        TiffTagPatch.Set(data, 0, 259, TiffTagPatch.Short, 5);
        TiffTagPatch.SetCount(data, 0, 259, 3);

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(data));

        Assert.Equal(ImageDecodeError.Unsupported, e.Reason);
        Assert.Contains("a Compression tag that is not one integer value is not read", e.Message);
    }

    [Fact]
    public void A_tiff_size_of_several_values_is_corrupt_not_its_offset_taken_as_the_size()
    {
        byte[] data = Fixtures.Bytes("fax4.tif");
        TiffTagPatch.SetCount(data, 0, 256, 2);

        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().ReadHeader(data));

        Assert.Equal(ImageDecodeError.Corrupt, e.Reason);
        Assert.Contains("TIFF: tag 256 has 2 values", e.Message);
    }
}
