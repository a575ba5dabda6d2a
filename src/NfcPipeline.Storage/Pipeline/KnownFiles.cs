namespace NfcPipeline.Storage.Pipeline;

/// <summary>A file as the study's last registration read it: its hash and header, and the size and time they were read at.</summary>
public sealed record KnownFile(byte[] Sha256, long SizeBytes, long ModifiedTicks, int? Width, int? Height, string? Format);

/// <summary>
/// The files a study was last registered from, by path as registered, and the folder they were read under (null for a
/// list of images, whose paths are the share's). A resubmission from the same folder reuses the hash of a file whose
/// size and modification time are unchanged, rather than read every file again; any other reads it.
/// </summary>
public sealed record KnownFiles(string? SourcePath, IReadOnlyDictionary<string, KnownFile> ByPath)
{
    public static KnownFiles None { get; } = new(null, new Dictionary<string, KnownFile>(StringComparer.Ordinal));

    /// <summary>The file registered at <paramref name="relativePath"/> from <paramref name="sourcePath"/>; null when it was not.</summary>
    public KnownFile? Of(string? sourcePath, string relativePath) =>
        string.Equals(sourcePath, SourcePath, StringComparison.Ordinal) && ByPath.TryGetValue(relativePath, out var file) ? file : null;
}
