using System.Buffers.Binary;
using System.Numerics;
using NfcPipeline.Imaging.Headers;

namespace NfcPipeline.Imaging.Codecs;

/// <summary>
/// Managed BMP decoder: uncompressed 1/4/8-bit palette, 24-bit, and 32-bit (BI_RGB or BI_BITFIELDS with
/// 8-bit masks); bottom-up and top-down. RLE and 16-bit files are refused as unsupported.
/// </summary>
internal static class BmpCodec
{
    public static RgbImage Decode(ReadOnlySpan<byte> data, BmpHeader h, ImageDecodeOptions options, List<string> notes)
    {
        bool indexed = h.BitsPerPixel is 1 or 4 or 8;
        if (!(indexed || h.BitsPerPixel is 24 or 32))
            throw new ImageDecodeException(ImageDecodeError.Unsupported, $"BMP: {h.BitsPerPixel} bits per pixel");
        bool bitfields = h.Compression == BmpHeader.CompressionBitfields && h.BitsPerPixel == 32;
        if (h.Compression != BmpHeader.CompressionRgb && !bitfields)
            throw new ImageDecodeException(ImageDecodeError.Unsupported, $"BMP: compression {h.Compression} (RLE or other) at {h.BitsPerPixel} bits per pixel");

        DecodeLimits.CheckDimensions(options, ImageFormat.Bmp, h.Width, h.Height);
        long stride = ((long)h.BitsPerPixel * h.Width + 31) / 32 * 4;
        if (h.PixelOffset < 0 || h.PixelOffset + stride * h.Height > data.Length)
            throw new ImageDecodeException(ImageDecodeError.Truncated,
                $"BMP: pixel data needs {stride * h.Height} bytes from offset {h.PixelOffset}, the file has {data.Length}");

        // Pixel data that begins inside the headers or the palette would be read as pixels without a word.
        long headersEnd = h.PaletteOffset + (indexed ? (long)Math.Min(h.PaletteCount, 256) * h.PaletteEntrySize : 0);
        if (h.PixelOffset < headersEnd)
            throw new ImageDecodeException(ImageDecodeError.Corrupt,
                $"BMP: pixel data at offset {h.PixelOffset} begins inside the headers or the palette (they end at {headersEnd})");

        Span<byte> palette = stackalloc byte[256 * 3];
        palette.Clear(); // indices past the stored palette read as black
        if (indexed)
            ReadPalette(data, h, palette);
        var channels = bitfields ? Channels.From(h) : Channels.Standard;
        if (bitfields && !channels.IsEightBit)
            throw new ImageDecodeException(ImageDecodeError.Unsupported, "BMP: 32-bit colour masks that are not 8 bits wide");

        byte[] rgb = GC.AllocateUninitializedArray<byte>(h.Width * h.Height * 3);
        var pixels = data.Slice(h.PixelOffset, (int)(stride * h.Height));
        for (int y = 0; y < h.Height; y++)
        {
            int sourceRow = h.TopDown ? y : h.Height - 1 - y;
            var src = pixels.Slice((int)(sourceRow * stride), (int)stride);
            var dst = rgb.AsSpan(y * h.Width * 3, h.Width * 3);
            switch (h.BitsPerPixel)
            {
                case 24:
                    for (int x = 0, i = 0; x < dst.Length; x += 3, i += 3)
                    {
                        dst[x] = src[i + 2];
                        dst[x + 1] = src[i + 1];
                        dst[x + 2] = src[i];
                    }
                    break;
                case 32:
                    for (int x = 0, i = 0; x < dst.Length; x += 3, i += 4)
                    {
                        uint p = BinaryPrimitives.ReadUInt32LittleEndian(src[i..]);
                        dst[x] = (byte)(p >> channels.RedShift);
                        dst[x + 1] = (byte)(p >> channels.GreenShift);
                        dst[x + 2] = (byte)(p >> channels.BlueShift);
                    }
                    break;
                default:
                    ExpandIndexed(src, dst, h.BitsPerPixel, h.Width, palette);
                    break;
            }
        }
        if (h.BitsPerPixel == 32)
            notes.Add("32-bit BMP: fourth byte ignored");
        return new RgbImage(h.Width, h.Height, rgb, ImageFormat.Bmp, notes.ToArray());
    }

    private static void ReadPalette(ReadOnlySpan<byte> data, BmpHeader h, Span<byte> palette)
    {
        int count = Math.Min(h.PaletteCount, 256);
        if (h.PaletteOffset + (long)count * h.PaletteEntrySize > data.Length)
            throw new ImageDecodeException(ImageDecodeError.Truncated, "BMP: data ends inside the palette");
        for (int i = 0; i < count; i++)
        {
            var entry = data.Slice(h.PaletteOffset + i * h.PaletteEntrySize, 3); // B, G, R
            palette[i * 3] = entry[2];
            palette[i * 3 + 1] = entry[1];
            palette[i * 3 + 2] = entry[0];
        }
    }

    private static void ExpandIndexed(ReadOnlySpan<byte> src, Span<byte> dst, int bits, int width, ReadOnlySpan<byte> palette)
    {
        int perByte = 8 / bits, mask = (1 << bits) - 1;
        for (int x = 0; x < width; x++)
        {
            int shift = 8 - bits * (x % perByte + 1);
            int index = (src[x / perByte] >> shift) & mask;
            palette.Slice(index * 3, 3).CopyTo(dst.Slice(x * 3, 3));
        }
    }

    private readonly record struct Channels(int RedShift, int GreenShift, int BlueShift, bool IsEightBit)
    {
        public static Channels Standard => new(16, 8, 0, true);

        public static Channels From(BmpHeader h) => new(
            BitOperations.TrailingZeroCount(h.RedMask),
            BitOperations.TrailingZeroCount(h.GreenMask),
            BitOperations.TrailingZeroCount(h.BlueMask),
            IsByteMask(h.RedMask) && IsByteMask(h.GreenMask) && IsByteMask(h.BlueMask));

        private static bool IsByteMask(uint mask) => mask != 0 && mask >> BitOperations.TrailingZeroCount(mask) == 0xFF;
    }
}
