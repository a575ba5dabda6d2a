using System.Buffers.Binary;

namespace NfcPipeline.Imaging.Headers;

/// <summary>The JPEG markers before the first scan: frame size, components, EXIF orientation, Adobe marker.</summary>
/// <param name="RawOrientation">The EXIF orientation value as stored (null when there is no readable EXIF tag).</param>
internal readonly record struct JpegHeader(int Width, int Height, int Components, int? RawOrientation, bool HasAdobeMarker)
{
    /// <summary>The orientation to apply: the EXIF value when it is 1–8, otherwise 1.</summary>
    public int Orientation => RawOrientation is >= 1 and <= 8 ? RawOrientation.Value : 1;

    public static JpegHeader Read(ReadOnlySpan<byte> data)
    {
        int? orientation = null;
        bool adobe = false;
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
                    throw Truncated();
                marker = data[pos++];
                if (marker != 0x00)
                    break; // FF 00 is a stuffed data byte, not a marker
            }
            if (marker == 0xD8 || marker == 0x01 || marker is >= 0xD0 and <= 0xD7)
                continue; // markers without a length
            if (marker == 0xD9 || marker == 0xDA)
                throw new ImageDecodeException(ImageDecodeError.Corrupt, "JPEG: no frame header (SOF) before the image data");
            if (pos + 2 > data.Length)
                throw Truncated();
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            if (length < 2)
                throw new ImageDecodeException(ImageDecodeError.Corrupt, $"JPEG: marker 0x{marker:X2} has length {length}");
            if (pos + length > data.Length)
                throw Truncated();
            var segment = data.Slice(pos + 2, length - 2);
            if (IsStartOfFrame(marker))
                return FromFrame(marker, segment, orientation, adobe);
            if (marker == 0xE1 && orientation is null && segment.StartsWith("Exif\0\0"u8))
                orientation = ExifOrientationReader.Read(segment[6..]);
            else if (marker == 0xEE && segment.StartsWith("Adobe"u8))
                adobe = true;
            pos += length;
        }
    }

    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    private static bool IsStartOfFrame(byte marker) =>
        marker is >= 0xC0 and <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;

    private static JpegHeader FromFrame(byte marker, ReadOnlySpan<byte> sof, int? orientation, bool adobe)
    {
        if (sof.Length < 6)
            throw new ImageDecodeException(ImageDecodeError.Corrupt, "JPEG: frame header too short");
        int height = BinaryPrimitives.ReadUInt16BigEndian(sof[1..]);
        int width = BinaryPrimitives.ReadUInt16BigEndian(sof[3..]);
        int components = sof[5];
        if (width == 0 || height == 0)
            throw new ImageDecodeException(ImageDecodeError.Unsupported, $"JPEG: frame 0x{marker:X2} declares {width}x{height} (height in a DNL marker is not supported)");
        return new JpegHeader(width, height, components, orientation, adobe);
    }

    private static ImageDecodeException Truncated() =>
        new(ImageDecodeError.Truncated, "JPEG: data ends inside the header");
}
