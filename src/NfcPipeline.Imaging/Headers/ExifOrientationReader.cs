using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Headers;

/// <summary>Finds the Orientation tag (0x0112) in IFD0 of an APP1 "Exif" payload. Bounds-checked; damaged EXIF yields null.</summary>
internal static class ExifOrientationReader
{
    private const ushort OrientationTag = 0x0112;
    private const ushort TypeShort = 3;
    private const ushort TypeLong = 4;

    /// <param name="tiff">The APP1 payload after the "Exif\0\0" prefix: a little TIFF structure.</param>
    public static int? Read(ReadOnlySpan<byte> tiff)
    {
        if (tiff.Length < 8)
            return null;
        bool little;
        if (tiff[0] == 'I' && tiff[1] == 'I') little = true;
        else if (tiff[0] == 'M' && tiff[1] == 'M') little = false;
        else return null;
        if (U16(tiff[2..], little) != 42)
            return null;
        uint ifd = U32(tiff[4..], little);
        if (ifd > (uint)tiff.Length - 2)
            return null;
        int count = U16(tiff[(int)ifd..], little);
        int entries = (int)ifd + 2;
        for (int i = 0; i < count; i++)
        {
            int e = entries + i * 12;
            if (e + 12 > tiff.Length)
                return null;
            if (U16(tiff[e..], little) != OrientationTag)
                continue;
            if (U32(tiff[(e + 4)..], little) != 1)
                return null;
            // SHORT as the standard says; LONG as some writers store it (and TIFF files are read alike, TiffHeader).
            return U16(tiff[(e + 2)..], little) switch
            {
                TypeShort => U16(tiff[(e + 8)..], little),
                TypeLong => (int)Math.Min(U32(tiff[(e + 8)..], little), int.MaxValue),   // past 8: noted as outside 1–8
                _ => null,
            };
        }
        return null;
    }

    private static ushort U16(ReadOnlySpan<byte> s, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16BigEndian(s);

    private static uint U32(ReadOnlySpan<byte> s, bool little) =>
        little ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s);
}
