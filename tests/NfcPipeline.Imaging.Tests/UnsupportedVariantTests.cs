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
}
