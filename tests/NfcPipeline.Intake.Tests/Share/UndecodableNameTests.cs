using System.Runtime.InteropServices;
using System.Text;
using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

/// <summary>
/// Names written in Latin-1, not UTF-8 ("Müller" from an old Windows tool): .NET lists them with U+FFFD and cannot open
/// them. They are refused or skipped with their reason, and their neighbours go on.
/// </summary>
public sealed partial class UndecodableNameTests : IDisposable
{
    private readonly TestShare _share = new();
    private readonly List<(byte[] Path, bool Folder)> _made = [];

    public void Dispose()
    {
        foreach (var (path, folder) in Enumerable.Reverse(_made)) _ = folder ? Rmdir(path) : Unlink(path);
        _share.Dispose();
    }

    [Fact]
    public void Undecodable_names_are_refused_or_skipped_without_blocking_their_neighbours()
    {
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        _share.Touch("s1/P001/R3/f2.jpg", "image-2");
        _share.Touch("s1/READY", "");
        _share.StampAll(TestShare.T0);
        MakeFolder("Müller");          // two study folders that both list as "M\uFFFDller"
        MakeFolder("Mäller");
        MakeFile("s1/P001/L2/Müller.jpg");
        MakeFolder("s1/Pätient");

        var clock = new ManualClock(DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1));   // the folders changed just now
        var scan = new ShareScanner(clock).Scan(_share.Root, new ShareScanOptions { SettleTime = TimeSpan.FromSeconds(30) });

        var study = scan.Folders.Single(f => f.Folder == "s1");
        Assert.Equal(StudyReadiness.Ready, study.Readiness);
        Assert.Equal(2, study.FileCount);
        var odd = scan.Folders.Where(f => f.Folder == "M\uFFFDller").ToList();
        Assert.Equal(2, odd.Count);
        Assert.All(odd, f => Assert.Equal((StudyReadiness.Refused, $"the folder is left out: {SharePaths.UndecodableNameReason}"), (f.Readiness, f.Reason)));

        var inventory = StudyLayout.Discover(Path.Combine(_share.Root, "s1"), _share.Root);
        Assert.Equal(["P001/L2/f1.jpg", "P001/R3/f2.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal(["P001/L2/M\uFFFDller.jpg", "P\uFFFDtient"], inventory.Skipped.Where(s => s.Reason == SharePaths.UndecodableNameReason).Select(s => s.RelativePath));
        Assert.DoesNotContain(inventory.Skipped, s => s.Unreadable);
    }

    [Fact]
    public void Names_with_control_characters_are_skipped_with_their_reason_and_shown_without_them()
    {
        // Registered, they failed at analysis as "not in the share" (ResolveUnder refuses such paths), and their raw
        // names reached terminals through `nfc analyze` (an escape sequence drives the terminal).
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        _share.Touch("s1/P\u001b]52;c;x\u0007/L2/f1.jpg", "image-2");
        _share.Touch("s1/P002/L2/f\n2.jpg", "image-3");

        var inventory = StudyLayout.Discover(Path.Combine(_share.Root, "s1"), _share.Root);

        Assert.Equal(["P001/L2/f1.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal(["P002/L2/f?2.jpg", "P?]52;c;x?"],
            inventory.Skipped.Where(s => s.Reason == SharePaths.ControlCharacterNameReason).Select(s => s.RelativePath).Order(StringComparer.Ordinal));
        Assert.Equal("a?b?c?d", SharePaths.Printable("a\u2028b\u202Ec\u0007d"));   // separators and bidi overrides too
    }

    [Fact]
    public void Names_with_line_separators_or_bidirectional_overrides_are_skipped_and_not_counted_by_the_scan()
    {
        // A patient folder "P\u202E10P" shows as "PP01": accepted as a patient code, it was stored and shown reversed; and
        // a study holding only such files was counted ready by the scan and refused as empty at every retry.
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        _share.Touch("s1/P\u202E10P/L2/f1.jpg", "image-2");
        _share.Touch("s1/P002/L2/f\u20282.jpg", "image-3");
        _share.Touch("s2/P001/L2/f\u20281.jpg", "image-4");

        var inventory = StudyLayout.Discover(Path.Combine(_share.Root, "s1"), _share.Root);

        Assert.Equal(["P001/L2/f1.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal(["P002/L2/f?2.jpg", "P?10P"],
            inventory.Skipped.Where(s => s.Reason == SharePaths.ControlCharacterNameReason).Select(s => s.RelativePath).Order(StringComparer.Ordinal));
        Assert.Equal(1, StudyFingerprint.Compute(Path.Combine(_share.Root, "s1"), SharePaths.RealPath(_share.Root)).FileCount);
        Assert.Equal(0, StudyFingerprint.Compute(Path.Combine(_share.Root, "s2"), SharePaths.RealPath(_share.Root)).FileCount);
    }

    [Fact]
    public void Names_with_a_backslash_are_skipped_because_paths_elsewhere_read_it_as_a_separator()
    {
        // Flat names from a Windows archive: registered as patient "unassigned", each failed at analysis, where
        // ResolveUnder read "P01\L2\f1.jpg" as P01/L2/f1.jpg, a file that does not exist.
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        _share.Touch("s1/P01\\L2\\f1.jpg", "image-2");

        var inventory = StudyLayout.Discover(Path.Combine(_share.Root, "s1"), _share.Root);

        Assert.Equal(["P001/L2/f1.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal(["P01\\L2\\f1.jpg"], inventory.Skipped.Where(s => s.Reason == SharePaths.BackslashNameReason).Select(s => s.RelativePath));
    }

    /// <summary>The share root (UTF-8) and a relative path written in Latin-1, NUL-terminated.</summary>
    private byte[] Latin1Path(string relative) => [.. Encoding.UTF8.GetBytes(_share.Root + "/"), .. Encoding.Latin1.GetBytes(relative), 0];

    private void MakeFolder(string relative)
    {
        var path = Latin1Path(relative);
        Assert.Equal(0, Mkdir(path, Convert.ToUInt32("755", 8)));
        _made.Add((path, true));
    }

    private void MakeFile(string relative)
    {
        var path = Latin1Path(relative);
        int fd = Open(path, 0x41 /* O_WRONLY | O_CREAT */, Convert.ToUInt32("644", 8));
        Assert.True(fd >= 0);
        Close(fd);
        _made.Add((path, false));
    }

    [LibraryImport("libc", EntryPoint = "mkdir")] private static partial int Mkdir(byte[] path, uint mode);
    [LibraryImport("libc", EntryPoint = "open")] private static partial int Open(byte[] path, int flags, uint mode);
    [LibraryImport("libc", EntryPoint = "close")] private static partial int Close(int fd);
    [LibraryImport("libc", EntryPoint = "unlink")] private static partial int Unlink(byte[] path);
    [LibraryImport("libc", EntryPoint = "rmdir")] private static partial int Rmdir(byte[] path);
}
