using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Headers;

/// <summary>
/// The JPEG markers before the first scan: frame size, components, EXIF orientation, Adobe marker. All of them up to the
/// first scan are read, as libjpeg reads them: an Adobe or EXIF segment may follow the frame header.
/// </summary>
/// <param name="RawOrientation">The EXIF orientation value as stored (null when there is no readable EXIF tag).</param>
/// <param name="Sequential">A baseline or extended sequential frame (SOF0, SOF1), not progressive or lossless.</param>
/// <param name="FirstScanComponents">How many components the first scan carries (all of them: an interleaved scan).</param>
/// <param name="FirstScanOffset">Where the first scan's SOS marker starts.</param>
internal readonly record struct JpegHeader(int Width, int Height, int Components, int? RawOrientation, bool HasAdobeMarker,
    bool Sequential, int FirstScanComponents, int FirstScanOffset)
{
    /// <summary>
    /// One sequential scan of every component, and no other scan after it: the whole image is in that scan, so a file
    /// that lacks only its end-of-image marker can be decoded whole (libjpeg still warns when the scan itself is cut).
    /// </summary>
    public bool IsSingleScan(ReadOnlySpan<byte> data) =>
        Sequential && FirstScanComponents == Components && data[(FirstScanOffset + 2)..].IndexOf((ReadOnlySpan<byte>)[0xFF, 0xDA]) < 0;

    /// <summary>The orientation to apply: the EXIF value when it is 1–8, otherwise 1.</summary>
    public int Orientation => RawOrientation is >= 1 and <= 8 ? RawOrientation.Value : 1;

    public static JpegHeader Read(ReadOnlySpan<byte> data)
    {
        int? orientation = null;
        bool adobe = false;
        byte frameMarker = 0;
        var frame = ReadOnlySpan<byte>.Empty;
        int pos = 2; // after SOI
        while (true)
        {
            // As libjpeg's next_marker: bytes before a marker (padding some cameras and EXIF tools write) are skipped, and
            // libjpeg-turbo reports them as a warning when it decodes, rather than failing the file.
            byte marker;
            while (true)
            {
                while (pos < data.Length && data[pos] != 0xFF)
                    pos++;
                while (pos < data.Length && data[pos] == 0xFF)
                    pos++; // fill bytes
                if (pos >= data.Length)
                    throw Truncated(frameMarker);
                marker = data[pos++];
                if (marker != 0x00)
                    break; // FF 00 is a stuffed data byte, not a marker
            }
            if (marker == 0xD8 || marker == 0x01 || marker is >= 0xD0 and <= 0xD7)
                continue; // markers without a length
            if (frameMarker == 0 && (marker == 0xD9 || marker == 0xDA))
                throw new ImageDecodeException(ImageDecodeError.Corrupt, "JPEG: no frame header (SOF) before the image data");
            if (marker == 0xD9)
                throw new ImageDecodeException(ImageDecodeError.Corrupt, "JPEG: the image ends before its first scan");
            if (pos + 2 > data.Length)
                throw Truncated(frameMarker);
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            if (length < 2)
                throw new ImageDecodeException(ImageDecodeError.Corrupt, $"JPEG: marker 0x{marker:X2} has length {length}");
            if (pos + length > data.Length)
                throw Truncated(frameMarker);
            var segment = data.Slice(pos + 2, length - 2);
            if (marker == 0xDA)
                return FromFrame(frameMarker, frame, orientation, adobe, segment.IsEmpty ? 0 : segment[0], pos - 2);
            if (IsStartOfFrame(marker) && frameMarker == 0)
            {
                frameMarker = marker;
                frame = segment;
                ValidateFrame(marker, segment);
            }
            else if (marker == 0xE1 && orientation is null && segment.StartsWith("Exif\0\0"u8))
                orientation = ExifOrientationReader.Read(segment[6..]);
            else if (marker == 0xEE && segment.StartsWith("Adobe"u8))
                adobe = true;
            pos += length;
        }
    }

    /// <summary>
    /// A copy of the file without what libjpeg warns of in the header (bytes before a marker, a JFIF major version other
    /// than 1), each said in <paramref name="notes"/>; null when there is none, or the header cannot be walked (the
    /// decoder then says why). libjpeg reports only its first warning: a header's warning hid the scan's (damage, a
    /// file cut short), and a broken image decoded "with a warning".
    /// </summary>
    public static byte[]? WithoutHeaderWarnings(ReadOnlySpan<byte> data, List<string> notes)
    {
        if (data.Length < 4) return null;
        // Walked without copying (every decode comes through here); the pieces kept are copied once, when needed.
        var kept = new List<(int Start, int Length)>();
        int pos = 2, pieceStart = 0, skipped = 0, jfifMajorAt = -1;
        string? jfif = null;
        while (true)
        {
            int padding = pos;
            while (pos < data.Length && data[pos] != 0xFF) pos++;
            if (pos > padding)
            {
                kept.Add((pieceStart, padding - pieceStart));
                skipped += pos - padding;
                pieceStart = pos;
            }
            while (pos < data.Length && data[pos] == 0xFF) pos++;
            if (pos >= data.Length || data[pos] == 0x00) return null;
            byte marker = data[pos++];
            if (marker == 0xDA) break;   // the scans are kept as they are
            if (marker == 0xD8 || marker == 0x01 || marker is >= 0xD0 and <= 0xD7) continue;
            if (marker == 0xD9 || pos + 2 > data.Length) return null;
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            if (length < 2 || pos + length > data.Length) return null;
            var segment = data.Slice(pos + 2, length - 2);
            if (marker == 0xE0 && jfif is null && segment.Length >= 7 && segment.StartsWith("JFIF\0"u8) && segment[5] != 1)
            {
                jfif = $"JPEG: JFIF version {segment[5]}.{segment[6]:D2} read as 1.{segment[6]:D2}";
                jfifMajorAt = pos + 2 + 5;
            }
            pos += length;
        }
        if (skipped == 0 && jfif is null) return null;
        kept.Add((pieceStart, data.Length - pieceStart));
        var copy = new byte[data.Length - skipped];
        int at = 0;
        foreach (var (start, length) in kept)
        {
            data.Slice(start, length).CopyTo(copy.AsSpan(at));
            if (jfifMajorAt >= start && jfifMajorAt < start + length) copy[at + jfifMajorAt - start] = 1;
            at += length;
        }
        if (skipped > 0) notes.Add($"JPEG: {skipped} extraneous byte(s) before a header marker skipped");
        if (jfif is not null) notes.Add(jfif);
        return copy;
    }

    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    private static bool IsStartOfFrame(byte marker) =>
        marker is >= 0xC0 and <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;

    private static void ValidateFrame(byte marker, ReadOnlySpan<byte> sof)
    {
        if (sof.Length < 6)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, "JPEG: frame header too short");
        int height = BinaryPrimitives.ReadUInt16BigEndian(sof[1..]);
        int width = BinaryPrimitives.ReadUInt16BigEndian(sof[3..]);
        if (width == 0 || height == 0)
            throw new ImageDecodeException(ImageDecodeError.Unsupported, $"JPEG: frame 0x{marker:X2} declares {width}x{height} (height in a DNL marker is not supported)");
    }

    private static JpegHeader FromFrame(byte marker, ReadOnlySpan<byte> sof, int? orientation, bool adobe, int scanComponents, int scanOffset) =>
        new(BinaryPrimitives.ReadUInt16BigEndian(sof[3..]), BinaryPrimitives.ReadUInt16BigEndian(sof[1..]), sof[5], orientation, adobe,
            marker is 0xC0 or 0xC1, scanComponents, scanOffset);

    private static ImageDecodeException Truncated(byte frameMarker) =>
        new(ImageDecodeError.Truncated, frameMarker == 0 ? "JPEG: data ends inside the header" : "JPEG: data ends before the first scan");
}
