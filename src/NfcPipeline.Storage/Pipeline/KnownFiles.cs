namespace NfcPipeline.Storage.Pipeline;

/// <summary>A file as the study's last registration read it: its hash and header, and its stamp then (Intake.FileStamps).</summary>
public sealed record KnownFile(byte[] Sha256, long SizeBytes, string Stamp, int? Width, int? Height, string? Format);

/// <summary>
/// The files a study was last registered from, by path as registered, and the folder they were read under (null for a
/// list of images, whose paths are the share's). A resubmission from the same folder reuses the hash of a file whose
/// stamp (device, inode, size, modification and change times) is unchanged, rather than read every file again.
/// </summary>
public sealed record KnownFiles(string? SourcePath, IReadOnlyDictionary<string, KnownFile> ByPath)
{
    public static KnownFiles None { get; } = new(null, new Dictionary<string, KnownFile>(StringComparer.Ordinal));

    /// <summary>The file registered at <paramref name="relativePath"/> from <paramref name="sourcePath"/>; null when it was not.</summary>
    public KnownFile? Of(string? sourcePath, string relativePath) =>
        string.Equals(sourcePath, SourcePath, StringComparison.Ordinal) && ByPath.TryGetValue(relativePath, out var file) ? file : null;
}
