namespace NfcPipeline.Intake.Tests.Share;

/// <summary>A clock the test moves by hand, so readiness is checked without sleeping.</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;
    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>A temporary share root (and an outside folder for link tests) with helpers that stamp file times.</summary>
public sealed class TestShare : IDisposable
{
    public TestShare()
    {
        Root = Directory.CreateTempSubdirectory("nfc-share-").FullName;
        Outside = Directory.CreateTempSubdirectory("nfc-outside-").FullName;
    }

    /// <summary>A fixed time in the past that the tests stamp files with and start their clocks from.</summary>
    public static DateTimeOffset T0 { get; } = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    public string Root { get; }
    public string Outside { get; }

    /// <summary>Writes a file and stamps it, and the folders that writing it changed, with <paramref name="at"/>.</summary>
    public string Touch(string relative, string content = "x", DateTimeOffset? at = null)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        var time = (at ?? T0).UtcDateTime;
        File.SetLastWriteTimeUtc(path, time);
        for (var dir = Path.GetDirectoryName(path)!; dir != Root; dir = Path.GetDirectoryName(dir)!)
            Directory.SetLastWriteTimeUtc(dir, time);
        return path;
    }

    /// <summary>Sets every file and folder below the root (not following links) to <paramref name="at"/>.</summary>
    public void StampAll(DateTimeOffset at)
    {
        foreach (var entry in Walk(new DirectoryInfo(Root)))
            entry.LastWriteTimeUtc = at.UtcDateTime;
    }

    /// <summary>Every entry below the root with its size and times: the "before/after" of the read-only tests.</summary>
    public IReadOnlyList<string> Listing() =>
        Walk(new DirectoryInfo(Root))
            .Select(e => $"{Path.GetRelativePath(Root, e.FullName)}|{(e is FileInfo f ? f.Length : -1)}|{e.LastWriteTimeUtc.Ticks}|{e.LinkTarget}")
            .Order(StringComparer.Ordinal)
            .ToList();

    private static IEnumerable<FileSystemInfo> Walk(DirectoryInfo directory)
    {
        foreach (var entry in directory.EnumerateFileSystemInfos())
        {
            yield return entry;
            if (entry is DirectoryInfo sub && entry.LinkTarget is null)
                foreach (var inner in Walk(sub)) yield return inner;
        }
    }

    public void Dispose()
    {
        Directory.Delete(Root, recursive: true);
        Directory.Delete(Outside, recursive: true);
    }
}
