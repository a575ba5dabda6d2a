namespace NfcPipeline.Imaging.Headers;

/// <summary>Recognises a format from its first bytes only; file names are never consulted.</summary>
internal static class FormatSniffer
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static ImageFormat? Sniff(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
            return ImageFormat.Jpeg;
        if (data.StartsWith(PngSignature))
            return ImageFormat.Png;
        if (data.Length >= 4 && IsTiffMagic(data))
            return ImageFormat.Tiff;
        if (data.Length >= 18 && data[0] == (byte)'B' && data[1] == (byte)'M' && BmpHeader.IsKnownInfoHeaderSize(data))
            return ImageFormat.Bmp;
        return null;
    }

    // "II*\0" / "MM\0*" for classic TIFF, "II+\0" / "MM\0+" for BigTIFF.
    private static bool IsTiffMagic(ReadOnlySpan<byte> d) =>
        (d[0] == 'I' && d[1] == 'I' && (d[2] == 42 || d[2] == 43) && d[3] == 0) ||
        (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && (d[3] == 42 || d[3] == 43));
}
