using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Tests;

/// <summary>Rewrites one entry of a TIFF structure's first directory in place, in its byte order: a crafted variant of a fixture.</summary>
internal static class TiffTagPatch
{
    public const ushort Short = 3, Long = 4;

    /// <param name="tiff">Where the TIFF structure starts: 0 for a .tif, after "Exif\0\0" for a JPEG's EXIF.</param>
    public static void Set(byte[] data, int tiff, ushort tag, ushort type, uint value)
    {
        var (entry, little) = Entry(data, tiff, tag);
        var typeField = data.AsSpan(entry + 2, 2);
        var valueField = data.AsSpan(entry + 8, 4);
        if (little) BinaryPrimitives.WriteUInt16LittleEndian(typeField, type); else BinaryPrimitives.WriteUInt16BigEndian(typeField, type);
        valueField.Clear();
        if (type == Short && little) BinaryPrimitives.WriteUInt16LittleEndian(valueField, (ushort)value);
        else if (type == Short) BinaryPrimitives.WriteUInt16BigEndian(valueField, (ushort)value);
        else if (little) BinaryPrimitives.WriteUInt32LittleEndian(valueField, value);
        else BinaryPrimitives.WriteUInt32BigEndian(valueField, value);
    }

    /// <summary>Sets the value count of the entry for <paramref name="tag"/>, its value field as it is.</summary>
    public static void SetCount(byte[] data, int tiff, ushort tag, uint count)
    {
        var (entry, little) = Entry(data, tiff, tag);
        if (little) BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(entry + 4), count); else BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(entry + 4), count);
    }

    /// <summary>Where the first directory's entry for <paramref name="tag"/> starts, and the structure's byte order.</summary>
    private static (int Entry, bool Little) Entry(byte[] data, int tiff, ushort tag)
    {
        bool little = data[tiff] == 'I';
        ushort U16(int at) => little ? BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(at)) : BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at));
        int ifd = tiff + (int)(little ? BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(tiff + 4)) : BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(tiff + 4)));
        return (Enumerable.Range(0, U16(ifd)).Select(i => ifd + 2 + 12 * i).Single(e => U16(e) == tag), little);
    }
}
