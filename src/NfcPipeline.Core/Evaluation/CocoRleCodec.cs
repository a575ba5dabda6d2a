namespace NfcPipeline.Core.Evaluation;

/// <summary>COCO run-length masks: the compact string form of pycocotools, and conversion to and from row-major bits.</summary>
public static class CocoRleCodec
{
    /// <summary>Decodes pycocotools' compressed counts string (6-bit groups from '0', delta-coded after the second run).</summary>
    public static uint[] DecodeString(string text)
    {
        var counts = new List<long>();
        int p = 0;
        while (p < text.Length)
        {
            long x = 0;
            int k = 0;
            bool more = true;
            while (more)
            {
                if (p >= text.Length) throw new FormatException("The RLE string ends inside a number.");
                int c = text[p] - 48;
                if (c is < 0 or > 63) throw new FormatException($"Invalid character '{text[p]}' in an RLE string.");
                x |= (long)(c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0;
                p++;
                k++;
                if (!more && (c & 0x10) != 0) x |= -1L << (5 * k);
            }
            if (counts.Count > 2) x += counts[^2];
            counts.Add(x);
        }
        return counts.Select(c => c >= 0 && c <= uint.MaxValue ? (uint)c : throw new FormatException("An RLE run is negative or too long.")).ToArray();
    }

    public static string EncodeString(IReadOnlyList<uint> counts)
    {
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < counts.Count; i++)
        {
            long x = counts[i];
            if (i > 2) x -= counts[i - 2];
            bool more = true;
            while (more)
            {
                long c = x & 0x1f;
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more) c |= 0x20;
                text.Append((char)(c + 48));
            }
        }
        return text.ToString();
    }

    /// <summary>Row-major foreground bits of a height × width mask.</summary>
    public static bool[] ToBits(CocoRle rle)
    {
        long total = (long)rle.Height * rle.Width;
        if (rle.Counts.Sum(c => (long)c) != total)
            throw new FormatException($"RLE runs cover {rle.Counts.Sum(c => (long)c)} pixels, expected {rle.Height}×{rle.Width} = {total}.");
        var bits = new bool[total];
        long position = 0;
        for (int i = 0; i < rle.Counts.Length; i++)
        {
            bool value = i % 2 == 1;
            for (long j = 0; j < rle.Counts[i]; j++, position++)
            {
                if (!value) continue;
                long column = position / rle.Height, row = position % rle.Height;
                bits[row * rle.Width + column] = true;
            }
        }
        return bits;
    }

    public static CocoRle FromBits(bool[] rowMajor, int height, int width)
    {
        if (rowMajor.Length != height * width) throw new ArgumentException("Mask size does not match.", nameof(rowMajor));
        var counts = new List<uint>();
        bool current = false;
        uint run = 0;
        for (int column = 0; column < width; column++)
            for (int row = 0; row < height; row++)
            {
                bool value = rowMajor[row * width + column];
                if (value != current) { counts.Add(run); run = 0; current = value; }
                run++;
            }
        counts.Add(run);
        return new CocoRle(height, width, [.. counts]);
    }
}
