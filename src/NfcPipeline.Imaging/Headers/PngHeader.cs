using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Headers;

/// <summary>The PNG IHDR chunk, and a chunk walk that tells truncation from corruption.</summary>
internal readonly record struct PngHeader(int Width, int Height, int BitDepth, int ColorType)
{
    private const int SignatureLength = 8;

    public static PngHeader Read(ReadOnlySpan<byte> data)
    {
        // signature, then length(4) "IHDR"(4) width(4) height(4) depth(1) colour type(1) ...
        if (data.Length < SignatureLength + 8 + 13)
            throw new ImageDecodeException(ImageDecodeError.Truncated, "PNG: data ends inside the header");
        var chunk = data[SignatureLength..];
        if (!chunk[4..8].SequenceEqual("IHDR"u8) || BinaryPrimitives.ReadUInt32BigEndian(chunk) != 13)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, "PNG: the first chunk is not a 13-byte IHDR");
        uint width = BinaryPrimitives.ReadUInt32BigEndian(chunk[8..]);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(chunk[12..]);
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, $"PNG: IHDR declares {width}x{height}");
        return new PngHeader((int)width, (int)height, chunk[16], chunk[17]);
    }

    /// <summary>True when the chunk sequence runs off the end of the data before IEND.</summary>
    public static bool EndsBeforeIend(ReadOnlySpan<byte> data)
    {
        long pos = SignatureLength;
        while (true)
        {
            if (pos + 8 > data.Length)
                return true;
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[(int)pos..]);
            bool isEnd = data.Slice((int)pos + 4, 4).SequenceEqual("IEND"u8);
            pos += 12L + length; // length, type, data, CRC
            if (pos > data.Length)
                return true;
            if (isEnd)
                return false;
        }
    }
}
