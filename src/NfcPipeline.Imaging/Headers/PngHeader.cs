using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Headers;

/// <summary>The PNG IHDR chunk, and a chunk walk that tells truncation from corruption.</summary>
internal readonly record struct PngHeader(int Width, int Height, int BitDepth, int ColorType, bool Interlaced)
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
        return new PngHeader((int)width, (int)height, chunk[16], chunk[17], Interlaced: chunk[20] == 1);
    }

    /// <summary>
    /// A copy of the file without its colour-management chunks (gAMA, sRGB, iCCP, cHRM), or null when it has none or
    /// its chunks run off the end (libpng then reports that). libpng's simplified API converts the pixels as those
    /// chunks say; without them it returns the stored values, which is what is analysed in every format.
    /// </summary>
    public static byte[]? WithoutColourChunks(ReadOnlySpan<byte> data, out IReadOnlyList<string> dropped)
    {
        var drop = new List<(int Start, int Length)>();
        var names = new List<string>();
        dropped = names;
        long pos = SignatureLength;
        while (true)
        {
            if (pos + 8 > data.Length) return null;
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[(int)pos..]);
            var type = data.Slice((int)pos + 4, 4);
            long next = pos + 12L + length;
            if (next > data.Length) return null;
            if (type.SequenceEqual("gAMA"u8) || type.SequenceEqual("sRGB"u8) || type.SequenceEqual("iCCP"u8) || type.SequenceEqual("cHRM"u8))
            {
                drop.Add(((int)pos, (int)(next - pos)));
                names.Add(System.Text.Encoding.ASCII.GetString(type));
            }
            // Colour chunks come before the image data: a file cut after its IDAT still has them all (and was decoded
            // with them applied when the walk ran off its end).
            if (type.SequenceEqual("IEND"u8) || type.SequenceEqual("IDAT"u8)) break;
            pos = next;
        }
        if (drop.Count == 0) return null;
        var copy = new byte[data.Length - drop.Sum(d => d.Length)];
        int from = 0, to = 0;
        foreach (var (start, length) in drop)
        {
            data[from..start].CopyTo(copy.AsSpan(to));
            to += start - from;
            from = start + length;
        }
        data[from..].CopyTo(copy.AsSpan(to));
        return copy;
    }

    /// <summary>True when the chunk sequence runs off the end of the data before IEND. A length over 2^31-1, which the
    /// PNG specification forbids, is damage, not a cut: false (the file is then Corrupt, not Truncated).</summary>
    public static bool EndsBeforeIend(ReadOnlySpan<byte> data)
    {
        long pos = SignatureLength;
        while (true)
        {
            if (pos + 8 > data.Length)
                return true;
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[(int)pos..]);
            if (length > int.MaxValue)
                return false;
            bool isEnd = data.Slice((int)pos + 4, 4).SequenceEqual("IEND"u8);
            pos += 12L + length; // length, type, data, CRC
            if (pos > data.Length)
                return true;
            if (isEnd)
                return false;
        }
    }
}
