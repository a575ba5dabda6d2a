namespace NfcPipeline.Imaging.Headers;

/// <summary>
/// The bytes a TIFF header is read from: a buffer, or a seekable file read a piece at a time, since a TIFF's directories
/// may lie anywhere in it (libtiff writes them after the pixels) and a registration reading every file whole to find a
/// few hundred bytes read each study twice.
/// </summary>
internal readonly ref struct TiffBytes
{
    private readonly ReadOnlySpan<byte> data;
    private readonly Stream? stream;

    public TiffBytes(ReadOnlySpan<byte> data)
    {
        this.data = data;
        Length = (ulong)data.Length;
    }

    /// <param name="stream">Seekable; its length is taken once, and a file that shrinks under the read ends it as truncated.</param>
    public TiffBytes(Stream stream) => (this.stream, Length) = (stream, (ulong)stream.Length);

    public ulong Length { get; }

    /// <summary><paramref name="count"/> bytes at <paramref name="offset"/>; the caller has checked they lie inside <see cref="Length"/>.</summary>
    public ReadOnlySpan<byte> At(ulong offset, int count)
    {
        if (offset > Length || (ulong)count > Length - offset)
            throw new ImageDecodeException(ImageDecodeError.Truncated, "TIFF: data ends inside the image directory");
        if (stream is null) return data.Slice((int)offset, count);
        var buffer = new byte[count];
        stream.Position = (long)offset;
        if (stream.ReadAtLeast(buffer, count, throwOnEndOfStream: false) < count)
            throw new ImageDecodeException(ImageDecodeError.Truncated, "TIFF: the file ended inside the image directory (it shrank while read)");
        return buffer;
    }
}
