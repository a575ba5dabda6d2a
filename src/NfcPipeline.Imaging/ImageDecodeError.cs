namespace NfcPipeline.Imaging;

/// <summary>Why an image could not be decoded. Stable codes: they are stored with the image's error.</summary>
public enum ImageDecodeError
{
    /// <summary>The file or buffer has no bytes.</summary>
    Empty,
    /// <summary>The data ends before the image does.</summary>
    Truncated,
    /// <summary>The data is damaged (bad checksum, impossible structure).</summary>
    Corrupt,
    /// <summary>Not one of the supported formats, or a variant of one the decoder cannot read.</summary>
    Unsupported,
    /// <summary>Above a configured limit (pixels or file bytes).</summary>
    TooLarge,
    /// <summary>Below the configured minimum width or height.</summary>
    TooSmall,
    /// <summary>The file exists but cannot be read (permission, IO error, missing).</summary>
    Unreadable,
    /// <summary>The path names a directory, not a file.</summary>
    NotAFile,
}
