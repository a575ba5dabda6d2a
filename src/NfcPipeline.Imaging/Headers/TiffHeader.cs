using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Headers;

/// <summary>
/// Width, height and orientation (as stored; 1 when absent) of the image directory decoded, and the number of
/// directories (pages), read in managed code so that a header probe needs no native library. Classic TIFF and BigTIFF.
/// The directory decoded is the first one, unless that is a reduced-resolution preview (NewSubfileType bit 0, or
/// SubfileType 2), as some capture software writes before the full image: then the first full-resolution one.
/// </summary>
/// <param name="PreviewOnly">The decoded directory is itself a reduced-resolution preview: no full-resolution one was found.</param>
/// <param name="Compressions">The Compression tags (1 when absent) of the first directory, which libtiff reads as it opens
/// the file, and of the decoded one: checked before libtiff sees the file (TiffCodec).</param>
internal readonly record struct TiffHeader(int Width, int Height, int PageCount, int Orientation = 1, int Directory = 0, bool PreviewOnly = false,
    (long First, long Decoded) Compressions = default)
{
    private const ushort CompressionTag = 259;
    private const ushort NewSubfileTypeTag = 254;
    private const ushort SubfileTypeTag = 255;
    private const ushort ImageWidthTag = 256;
    private const ushort ImageLengthTag = 257;
    private const ushort OrientationTag = 274;
    private const int MaxPagesCounted = 10_000;
    /// <summary>The Compression tag holds no single integer (another type, or several values).</summary>
    public const long NotOneCompression = -1;
    /// <summary>Directories read in full while looking past previews (the rest are only counted).</summary>
    private const int MaxDirectoriesRead = 16;

    public static TiffHeader Read(ReadOnlySpan<byte> data) => Read(new TiffBytes(data));

    public static TiffHeader Read(TiffBytes data)
    {
        if (data.Length < 8)
            throw Truncated("TIFF header");
        var start = data.At(0, 8);
        bool little = start[0] == 'I';
        bool big = U16(start[2..], little) == 43;
        ulong ifd;
        if (big)
        {
            if (data.Length < 16)
                throw Truncated("BigTIFF header");
            ifd = U64(data.At(8, 8), little);
        }
        else
            ifd = U32(start[4..], little);

        var first = ReadDirectory(data, ifd, little, big);
        var chosen = (Index: 0, Directory: first);
        bool found = !first.Reduced;
        ulong next = first.Next;
        int pages = 1;
        var seen = new HashSet<ulong> { ifd };
        while (next != 0 && pages < MaxPagesCounted && seen.Add(next) && next < data.Length)
        {
            try
            {
                if (found || pages >= MaxDirectoriesRead) next = NextDirectory(data, next, little, big);
                else
                {
                    var directory = ReadDirectory(data, next, little, big);
                    if (!directory.Reduced && directory.Width > 0 && directory.Height > 0) (chosen, found) = ((pages, directory), true);
                    next = directory.Next;
                }
            }
            catch (ImageDecodeException) { break; } // a damaged later page does not stop the first from decoding
            pages++;
        }
        var (width, height) = (chosen.Directory.Width, chosen.Directory.Height);
        string which = chosen.Index == 0 ? "first directory" : $"directory {chosen.Index + 1}";
        if (width == 0 || height == 0)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, $"TIFF: {which} declares {width}x{height}");
        if (width > int.MaxValue || height > int.MaxValue)
            throw new ImageDecodeException(ImageDecodeError.TooLarge, $"TIFF: {which} declares {width}x{height}");
        ulong orientation = chosen.Directory.Orientation;
        return new TiffHeader((int)width, (int)height, pages, orientation is >= 1 and <= 8 ? (int)orientation : 1, chosen.Index, !found,
            (first.Compression, chosen.Directory.Compression));
    }

    private static (ulong Width, ulong Height, ulong Orientation, bool Reduced, ulong Next, long Compression) ReadDirectory(TiffBytes data, ulong offset,
        bool little, bool big)
    {
        var (count, end) = Locate(data, offset, little, big);
        int countSize = big ? 8 : 2, entrySize = big ? 20 : 12;
        var entries = data.At(offset + (ulong)countSize, (int)count * entrySize);
        ulong width = 0, height = 0, orientation = 1;
        long compression = 1;
        bool reduced = false;
        var seen = new HashSet<ushort>();
        for (int i = 0; i < (int)count; i++)
        {
            var entry = entries.Slice(i * entrySize, entrySize);
            ushort tag = U16(entry, little);
            if (tag is not (ImageWidthTag or ImageLengthTag or OrientationTag or NewSubfileTypeTag or SubfileTypeTag or CompressionTag))
                continue;
            // As libtiff reads a directory: the first copy of a tag counts, later ones are ignored.
            if (!seen.Add(tag)) continue;
            ushort type = U16(entry[2..], little);
            // The value field holds the value only for one value: with more (if they do not fit) it is their offset.
            ulong values = big ? U64(entry[4..], little) : U32(entry[4..], little);
            long? v = values == 1 ? Integer(type, entry[(big ? 12 : 8)..], little, big) : null;
            if (tag == OrientationTag)
            {
                // One value of 1-8; anything else (or more values) libtiff also drops.
                if (v is >= 1 and <= 8) orientation = (ulong)v.Value;
                continue;
            }
            if (tag == CompressionTag)
            {
                // Not one integer: refused (TiffCodec). libtiff reads one per sample, wherever they lie, and a file whose
                // offset looked like an allowed compression here ran one of its rare decoders.
                compression = v ?? NotOneCompression;
                continue;
            }
            if (tag is NewSubfileTypeTag or SubfileTypeTag)
            {
                // NewSubfileType: bit 0 a reduced-resolution image, bit 2 a transparency mask; neither is the field.
                // Not one value: libtiff ignores the tag, and so does this.
                reduced |= tag == NewSubfileTypeTag ? v is { } flags && (flags & 0b101) != 0 : v == 2;
                continue;
            }
            if (v is not >= 0)
                throw new ImageDecodeException(ImageDecodeError.Corrupt, values != 1 ? $"TIFF: tag {tag} has {values} values"
                    : v is null ? $"TIFF: tag {tag} has type {type}" : $"TIFF: tag {tag} is {v}");
            if (tag == ImageWidthTag) width = (ulong)v.Value; else height = (ulong)v.Value;
        }
        return (width, height, orientation, reduced, Next(data, end, little, big), compression);
    }

    /// <summary>A later page's next-directory pointer, without reading its entries (counting pages costs one read each).</summary>
    private static ulong NextDirectory(TiffBytes data, ulong offset, bool little, bool big) =>
        Next(data, Locate(data, offset, little, big).End, little, big);

    private static (ulong Count, ulong End) Locate(TiffBytes data, ulong offset, bool little, bool big)
    {
        int countSize = big ? 8 : 2, entrySize = big ? 20 : 12, nextSize = big ? 8 : 4;
        // Compared without adding to a file offset, which can be any 64-bit value in a BigTIFF and would wrap around.
        // Offset 0 is a writer that never came back to fill it in; 1 to 7 lies inside the header itself.
        if (offset is > 0 and < 8)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, $"TIFF: the image directory's offset {offset} lies inside the file header");
        if (offset == 0 || data.Length < (ulong)countSize || offset > data.Length - (ulong)countSize)
            throw Truncated("image directory");
        var head = data.At(offset, countSize);
        ulong count = big ? U64(head, little) : U16(head, little);
        if (count > 100_000)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, $"TIFF: an image directory claims {count} entries");
        ulong end = offset + (ulong)countSize + count * (ulong)entrySize;   // offset < data.Length here: no wrap-around
        if (end + (ulong)nextSize > data.Length)
            throw Truncated("image directory");
        return (count, end);
    }

    private static ulong Next(TiffBytes data, ulong end, bool little, bool big) =>
        big ? U64(data.At(end, 8), little) : U32(data.At(end, 4), little);

    /// <summary>
    /// An integer tag's first value in any integer type libtiff converts (BYTE, SHORT, LONG and their signed forms;
    /// LONG8 and SLONG8 in a BigTIFF); null for other types.
    /// </summary>
    private static long? Integer(ushort type, ReadOnlySpan<byte> value, bool little, bool big) => type switch
    {
        1 => value[0],                                   // BYTE
        6 => (sbyte)value[0],                            // SBYTE
        3 => U16(value, little),                         // SHORT
        8 => (short)U16(value, little),                  // SSHORT
        4 => U32(value, little),                         // LONG
        9 => (int)U32(value, little),                    // SLONG
        16 when big => (long)Math.Min(U64(value, little), long.MaxValue),   // LONG8
        17 when big => (long)U64(value, little),         // SLONG8
        _ => null,
    };

    private static ImageDecodeException Truncated(string what) =>
        new(ImageDecodeError.Truncated, $"TIFF: data ends inside the {what}");

    private static ushort U16(ReadOnlySpan<byte> s, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16BigEndian(s);

    private static uint U32(ReadOnlySpan<byte> s, bool little) =>
        little ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s);

    private static ulong U64(ReadOnlySpan<byte> s, bool little) =>
        little ? BinaryPrimitives.ReadUInt64LittleEndian(s) : BinaryPrimitives.ReadUInt64BigEndian(s);
}
