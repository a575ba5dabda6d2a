using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Headers;

/// <summary>BMP file and info headers (OS/2 core header and the Windows BITMAPINFOHEADER family).</summary>
internal readonly record struct BmpHeader(
    int Width, int Height, bool TopDown, int BitsPerPixel, uint Compression,
    int PixelOffset, int PaletteOffset, int PaletteEntrySize, int PaletteCount,
    uint RedMask, uint GreenMask, uint BlueMask)
{
    public const uint CompressionRgb = 0;
    public const uint CompressionBitfields = 3;
    private const int FileHeaderSize = 14;

    public static bool IsKnownInfoHeaderSize(ReadOnlySpan<byte> data) =>
        BinaryPrimitives.ReadUInt32LittleEndian(data[FileHeaderSize..]) is 12 or 40 or 52 or 56 or 64 or 108 or 124;

    public static BmpHeader Read(ReadOnlySpan<byte> data)
    {
        int infoSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(data[FileHeaderSize..]);
        if (data.Length < FileHeaderSize + infoSize)
            throw new ImageDecodeException(ImageDecodeError.Truncated, "BMP: data ends inside the header");
        int pixelOffset = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(data[10..]), int.MaxValue);
        var info = data.Slice(FileHeaderSize, infoSize);

        if (infoSize == 12)
        {
            // OS/2 BITMAPCOREHEADER: 16-bit sizes, RGB triplets in the palette, always bottom-up.
            int w = BinaryPrimitives.ReadUInt16LittleEndian(info[4..]);
            int h = BinaryPrimitives.ReadUInt16LittleEndian(info[6..]);
            int bpp = BinaryPrimitives.ReadUInt16LittleEndian(info[10..]);
            int paletteCount = bpp <= 8 ? 1 << bpp : 0;
            return Validate(new BmpHeader(w, h, false, bpp, CompressionRgb, pixelOffset, FileHeaderSize + 12, 3, paletteCount, 0, 0, 0));
        }

        int width = BinaryPrimitives.ReadInt32LittleEndian(info[4..]);
        int height = BinaryPrimitives.ReadInt32LittleEndian(info[8..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(info[14..]);
        uint compression = BinaryPrimitives.ReadUInt32LittleEndian(info[16..]);
        uint colorsUsed = BinaryPrimitives.ReadUInt32LittleEndian(info[32..]);
        uint red = 0x00FF0000, green = 0x0000FF00, blue = 0x000000FF;
        int paletteOffset = FileHeaderSize + infoSize;
        if (compression == CompressionBitfields)
        {
            // The masks follow a 40-byte header; larger headers carry them inside.
            var masks = infoSize == 40 ? data.Slice(paletteOffset, Math.Min(12, data.Length - paletteOffset)) : info[40..];
            if (masks.Length < 12)
                throw new ImageDecodeException(ImageDecodeError.Truncated, "BMP: data ends inside the colour masks");
            red = BinaryPrimitives.ReadUInt32LittleEndian(masks);
            green = BinaryPrimitives.ReadUInt32LittleEndian(masks[4..]);
            blue = BinaryPrimitives.ReadUInt32LittleEndian(masks[8..]);
            if (infoSize == 40)
                paletteOffset += 12;
        }
        int count = bits <= 8 ? (colorsUsed == 0 || colorsUsed > (1u << bits) ? 1 << bits : (int)colorsUsed) : 0;
        bool topDown = height < 0;
        long absHeight = Math.Abs((long)height);
        if (width <= 0 || absHeight == 0 || absHeight > int.MaxValue)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, $"BMP: header declares {width}x{height}");
        return Validate(new BmpHeader(width, (int)absHeight, topDown, bits, compression, pixelOffset, paletteOffset, 4, count, red, green, blue));
    }

    private static BmpHeader Validate(BmpHeader h)
    {
        if (h.Width <= 0 || h.Height <= 0)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, $"BMP: header declares {h.Width}x{h.Height}");
        return h;
    }
}
