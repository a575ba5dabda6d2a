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
            // As libjpeg's examine_app14: a shorter segment is no Adobe marker, and its CMYK is not inverted.
            else if (marker == 0xEE && segment.Length >= 12 && segment.StartsWith("Adobe"u8))
                adobe = true;
            pos += length;
        }
    }

    /// <summary>
    /// A copy of the file without what libjpeg warns of though the image is whole, each said in <paramref name="notes"/>:
    /// bytes before a marker, a JFIF major version other than 1, an Adobe colour transform code it does not know (it
    /// assumes YCbCr or YCCK), and sequential scans whose progression bytes are not 0, 63, 0 (some baseline writers
    /// leave them zero; libjpeg ignores them). Null when there is none, or the header cannot be walked (the decoder then
    /// says why). libjpeg reports only its first warning: one of these hid the scan's (damage, a file cut short), and a
    /// broken image decoded "with a warning".
    /// </summary>
    public static byte[]? WithoutHeaderWarnings(ReadOnlySpan<byte> data, List<string> notes)
    {
        if (data.Length < 4) return null;
        // Walked without copying (every decode comes through here); the pieces kept are copied once, when needed.
        var kept = new List<(int Start, int Length)>();
        var patches = new List<(int At, byte Value)>();
        var adobeTransforms = new List<int>();
        int pos = 2, pieceStart = 0, skipped = 0, components = 0;
        byte frameMarker = 0;
        string? jfif = null;
        bool sawJfif = false;
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
            sawJfif |= marker == 0xE0 && segment.Length >= 14 && segment.StartsWith("JFIF\0"u8);
            if (marker == 0xE0 && jfif is null && segment.Length >= 7 && segment.StartsWith("JFIF\0"u8) && segment[5] != 1)
            {
                jfif = $"JPEG: JFIF version {segment[5]}.{segment[6]:D2} read as 1.{segment[6]:D2}";
                patches.Add((pos + 2 + 5, 1));
            }
            else if (marker == 0xEE && segment.Length >= 12 && segment.StartsWith("Adobe"u8))
                adobeTransforms.Add(pos + 2 + 11);
            else if (IsStartOfFrame(marker) && frameMarker == 0 && segment.Length >= 6)
                (frameMarker, components) = (marker, segment[5]);
            pos += length;
        }
        // As libjpeg's default_decompress_parms: 0 and 1 (3 components) or 0 and 2 (4) are known; others warn, except
        // for 3 components beside a JFIF marker, which decides alone.
        byte assumed = components == 3 ? (byte)1 : (byte)2;
        byte? unknownTransform = null;
        foreach (var at in adobeTransforms)
            if ((components == 4 || components == 3 && !sawJfif) && data[at] != 0 && data[at] != assumed)
            {
                unknownTransform ??= data[at];
                patches.Add((at, assumed));
            }
        if (unknownTransform is { } code)
            notes.Add($"JPEG: unknown Adobe colour transform code {code} read as {(components == 3 ? "YCbCr" : "YCCK")}");
        int scanPatches = frameMarker is 0xC0 or 0xC1 or 0xC9 ? AddSequentialScanPatches(data, pos - 2, patches) : 0;
        if (scanPatches > 0) notes.Add($"JPEG: {scanPatches} sequential scan(s) with progression bytes other than 0, 63, 0 read as sequential");
        if (skipped == 0 && patches.Count == 0) return null;
        kept.Add((pieceStart, data.Length - pieceStart));
        var copy = new byte[data.Length - skipped];
        int copied = 0, next = 0;
        // Pieces and patches both in file order, walked together: one pass over the patches for every piece made a
        // crafted file of many padding bytes and empty scans cost pieces × patches steps (hours) before libjpeg began.
        patches.Sort((x, y) => x.At.CompareTo(y.At));
        foreach (var (start, length) in kept)
        {
            data.Slice(start, length).CopyTo(copy.AsSpan(copied));
            while (next < patches.Count && patches[next].At < start) next++;   // in a skipped stretch (none should be)
            for (; next < patches.Count && patches[next].At < start + length; next++)
                copy[copied + patches[next].At - start] = patches[next].Value;
            copied += length;
        }
        if (skipped > 0) notes.Add($"JPEG: {skipped} extraneous byte(s) before a header marker skipped");
        if (jfif is not null) notes.Add(jfif);
        return copy;
    }

    /// <summary>
    /// Patches every scan header from <paramref name="sos"/> (an FF DA) on whose Ss, Se, Ah/Al are not 0, 63, 0, walking
    /// the entropy-coded data between scans (FF 00 and restart markers are data; other markers are segments, skipped by
    /// their length); returns how many. Stops at the end of the image or at what it cannot walk.
    /// </summary>
    private static int AddSequentialScanPatches(ReadOnlySpan<byte> data, int sos, List<(int At, byte Value)> patches)
    {
        int count = 0, pos = sos;
        while (pos + 4 < data.Length && data[pos] == 0xFF)
        {
            byte marker = data[pos + 1];
            if (marker == 0xD9) break;
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[(pos + 2)..]);
            if (length < 2 || pos + 2 + length > data.Length) break;
            if (marker == 0xDA)
            {
                int parameters = pos + 2 + 3 + 2 * data[pos + 4];   // after the length, Ns and Ns component pairs
                if (parameters + 3 > pos + 2 + length) break;
                if (data[parameters] != 0 || data[parameters + 1] != 63 || data[parameters + 2] != 0)
                {
                    patches.Add((parameters, 0));
                    patches.Add((parameters + 1, 63));
                    patches.Add((parameters + 2, 0));
                    count++;
                }
                pos += 2 + length;
                // The entropy-coded data: up to the next FF that is not stuffing (00), a restart marker or fill.
                while (pos + 1 < data.Length && !(data[pos] == 0xFF && data[pos + 1] is not 0x00 and not 0xFF and not (>= 0xD0 and <= 0xD7)))
                {
                    int next = data[(pos + 1)..].IndexOf((byte)0xFF);
                    if (next < 0) { pos = data.Length; break; }
                    pos += 1 + next;
                }
                continue;
            }
            pos += 2 + length;   // a table or other segment between scans
            while (pos + 1 < data.Length && data[pos] == 0xFF && data[pos + 1] == 0xFF) pos++;   // fill bytes before a marker
        }
        return count;
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
        // Only the height may be deferred (to a DNL marker); a width of 0 is damage.
        if (width == 0)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, $"JPEG: frame 0x{marker:X2} declares {width}x{height}");
        if (height == 0)
            throw new ImageDecodeException(ImageDecodeError.Unsupported, $"JPEG: frame 0x{marker:X2} declares {width}x{height} (height in a DNL marker is not supported)");
    }

    private static JpegHeader FromFrame(byte marker, ReadOnlySpan<byte> sof, int? orientation, bool adobe, int scanComponents, int scanOffset) =>
        new(BinaryPrimitives.ReadUInt16BigEndian(sof[3..]), BinaryPrimitives.ReadUInt16BigEndian(sof[1..]), sof[5], orientation, adobe,
            marker is 0xC0 or 0xC1, scanComponents, scanOffset);

    private static ImageDecodeException Truncated(byte frameMarker) =>
        new(ImageDecodeError.Truncated, frameMarker == 0 ? "JPEG: data ends inside the header" : "JPEG: data ends before the first scan");
}
