using NfcPipeline.Imaging.Codecs;
using NfcPipeline.Imaging.Headers;

namespace NfcPipeline.Imaging;

/// <summary>
/// Decodes JPEG, PNG, TIFF and BMP to 8-bit RGB. The format comes from the magic bytes, never the file name.
/// Bad input always ends in an <see cref="ImageDecodeException"/> with a reason code. Thread-safe.
/// </summary>
public sealed class ImageDecoder
{
    // Enough for the header of nearly every JPEG (EXIF included), PNG and BMP.
    private const int HeaderProbeBytes = 256 * 1024;

    private readonly Func<string, Stream> openRead;

    public ImageDecoder(ImageDecodeOptions? options = null)
        : this(options, OpenReadOnly)
    {
    }

    /// <summary>
    /// Opens files with <paramref name="openRead"/> (read-only by contract): a host confines reads to its share this way
    /// (SharePaths.OpenInside); what it throws fails the image as the decoder's own file errors do.
    /// </summary>
    public ImageDecoder(ImageDecodeOptions? options, Func<string, Stream> openRead)
    {
        Options = options ?? ImageDecodeOptions.Default;
        this.openRead = openRead;
    }

    public ImageDecodeOptions Options { get; }

    /// <summary>The format whose magic bytes start <paramref name="data"/>, or null.</summary>
    public static ImageFormat? Sniff(ReadOnlySpan<byte> data) => FormatSniffer.Sniff(data);

    /// <summary>Format and size from the header only, in managed code; no pixels are decoded and limits are not applied.</summary>
    public ImageInfo ReadHeader(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            throw new ImageDecodeException(ImageDecodeError.Empty, "no data");
        var format = Sniff(data) ?? throw NotAnImage(data);
        switch (format)
        {
            case ImageFormat.Jpeg:
                var jpeg = JpegHeader.Read(data);
                int orientation = Options.ApplyExifOrientation ? jpeg.Orientation : 1;
                bool swaps = orientation >= 5;
                return new ImageInfo(format, swaps ? jpeg.Height : jpeg.Width, swaps ? jpeg.Width : jpeg.Height, jpeg.Orientation);
            case ImageFormat.Png:
                var png = PngHeader.Read(data);
                return new ImageInfo(format, png.Width, png.Height);
            case ImageFormat.Tiff:
                return TiffInfo(TiffHeader.Read(data));
            default:
                var bmp = BmpHeader.Read(data);
                return new ImageInfo(format, bmp.Width, bmp.Height);
        }
    }

    private ImageInfo TiffInfo(TiffHeader tiff)
    {
        bool turned = Options.ApplyExifOrientation && tiff.Orientation >= 5;   // decoded in display orientation
        return new ImageInfo(ImageFormat.Tiff, turned ? tiff.Height : tiff.Width, turned ? tiff.Width : tiff.Height, tiff.Orientation, tiff.PageCount);
    }

    /// <summary>
    /// As <see cref="ReadHeader(ReadOnlySpan{byte})"/>, reading only the start of the file where that is enough, and of a
    /// TIFF only its directories, wherever they lie; the file is opened once.
    /// </summary>
    public ImageInfo ReadHeaderFile(string path) => WithFile(path, stream =>
    {
        var (head, complete) = ReadUpTo(stream, HeaderProbeBytes, alreadyRead: 0);
        if (complete) return ReadHeader(head);
        bool tiff = Sniff(head) == ImageFormat.Tiff;
        if (tiff && stream.CanSeek) return TiffInfo(TiffHeader.Read(new TiffBytes(stream)));
        if (!tiff)
        {
            try { return ReadHeader(head); }
            catch (ImageDecodeException e) when (e.Reason == ImageDecodeError.Truncated) { }
        }
        // A long header needs more than the probe (a TIFF that cannot be sought, all of it): the rest of the file.
        return ReadHeader([.. head, .. ReadUpTo(stream, long.MaxValue, alreadyRead: head.Length).Bytes]);
    });

    /// <summary>Decodes to RGB. Size limits are checked from the header before pixels are allocated.</summary>
    public RgbImage Decode(ReadOnlySpan<byte> data)
    {
        DecodeLimits.CheckFileSize(Options, data.Length);
        var info = ReadHeader(data);
        DecodeLimits.CheckDimensions(Options, info.Format, info.Width, info.Height);
        var notes = new List<string>();
        return info.Format switch
        {
            ImageFormat.Jpeg => JpegCodec.Decode(data, JpegHeader.Read(data), Options, notes),
            ImageFormat.Png => PngCodec.Decode(data, Options, notes),
            ImageFormat.Tiff => TiffCodec.Decode(data, TiffHeader.Read(data), Options, notes),
            _ => BmpCodec.Decode(data, BmpHeader.Read(data), Options, notes),
        };
    }

    /// <summary>Reads the file (read-only, shared) and decodes it.</summary>
    public RgbImage DecodeFile(string path) => Decode(ReadContent(path));

    /// <summary>The file's bytes, read as <see cref="DecodeFile"/> reads them (a FIFO refused unopened, the size limit checked first).</summary>
    public byte[] ReadContent(string path) => ReadFile(path, long.MaxValue, out _);

    private byte[] ReadFile(string path, long maxBytes, out bool complete)
    {
        (var bytes, complete) = WithFile(path, stream => ReadUpTo(stream, maxBytes, alreadyRead: 0));
        return bytes;
    }

    /// <summary>Up to <paramref name="maxBytes"/> of what follows the first <paramref name="alreadyRead"/> bytes, and whether that is all of it.</summary>
    private static (byte[] Bytes, bool Complete) ReadUpTo(Stream stream, long maxBytes, long alreadyRead)
    {
        long remaining = Math.Max(0, stream.Length - alreadyRead);
        int wanted = (int)Math.Min(Math.Min(remaining, maxBytes), Array.MaxLength);
        byte[] buffer = GC.AllocateUninitializedArray<byte>(wanted);
        int read = stream.ReadAtLeast(buffer, wanted, throwOnEndOfStream: false);
        return (read == wanted ? buffer : buffer.AsSpan(0, read).ToArray(), read >= remaining); // the file shrank while read
    }

    /// <summary>Opens the file as every read does (not a folder or FIFO, the size limit checked), mapping its errors.</summary>
    private T WithFile<T>(string path, Func<Stream, T> read)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (NotAFile(path) is { } notAFile) throw notAFile;
        try
        {
            using var stream = openRead(path);
            DecodeLimits.CheckFileSize(Options, stream.Length);
            return read(stream);
        }
        catch (Exception e) when (MapFileException(e, path) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>Why <paramref name="path"/> is no file to open (a folder, a FIFO, socket or device), checked without opening it; null otherwise.</summary>
    public static ImageDecodeException? NotAFile(string path) =>
        Directory.Exists(path) ? new(ImageDecodeError.NotAFile, "the path is a directory, not an image file")
        : !FileTypes.IsRegularFileOrUnknown(path) ? new(ImageDecodeError.NotAFile, "the path is not a regular file (a FIFO, socket or device); it is not opened")
        : null;

    /// <summary>
    /// The reason code for an exception from opening or reading a file; null for exceptions that are not about the file.
    /// The reason names no path: it is stored and shown beside the image, whose path holds the patient's folder (often the
    /// patient's name, which a study's patients map keeps out of what is shown). The caller knows which file it was.
    /// </summary>
    public static ImageDecodeException? MapFileException(Exception e, string path) => e switch
    {
        ImageDecodeException => null,
        UnauthorizedAccessException => new(ImageDecodeError.Unreadable, "the file cannot be read: permission denied", e),
        FileNotFoundException or DirectoryNotFoundException => new(ImageDecodeError.Unreadable, "the file was not found (moved or deleted since it was listed?)", e),
        IOException => new(ImageDecodeError.Unreadable, $"the file cannot be read: {WithoutPath(e.Message, path)}", e),
        NotSupportedException => new(ImageDecodeError.NotAFile, $"not a regular file ({WithoutPath(e.Message, path)})", e),
        _ => null,
    };

    /// <summary>
    /// A system message with the file's path (and its folder's) taken out, as given and as .NET quotes it (full, with
    /// "./", ".." and "//" resolved); the longest first, so no part of one is left behind by another.
    /// </summary>
    internal static string WithoutPath(string message, string path)
    {
        string full;
        try { full = Path.GetFullPath(path); } catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { full = path; }
        var files = new[] { path, full }.Distinct().OrderByDescending(p => p.Length);
        var folders = new[] { Path.GetDirectoryName(path), Path.GetDirectoryName(full) }
            .Where(f => !string.IsNullOrEmpty(f) && f is not ("/" or "." or "..")).Distinct().OrderByDescending(f => f!.Length);
        foreach (var file in files) message = message.Replace(file, "the file");
        foreach (var folder in folders) message = message.Replace(folder!, "its folder");
        return message;
    }

    private static Stream OpenReadOnly(string path) => new FileStream(path, new FileStreamOptions
    {
        Mode = FileMode.Open,
        Access = FileAccess.Read,
        Share = FileShare.ReadWrite | FileShare.Delete,
        Options = FileOptions.SequentialScan,
        BufferSize = 0,
    });

    private static ImageDecodeException NotAnImage(ReadOnlySpan<byte> data)
    {
        var head = data[..Math.Min(8, data.Length)];
        return new ImageDecodeException(ImageDecodeError.Unsupported,
            $"not a JPEG, PNG, TIFF or BMP (first bytes {Convert.ToHexString(head)})");
    }
}
