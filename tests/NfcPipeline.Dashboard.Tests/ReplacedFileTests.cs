using NfcPipeline.Cli.Output;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>The CLI's report files are written whole or not at all.</summary>
public sealed class ReplacedFileTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nfc-replaced-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task A_new_file_is_written()
    {
        var path = Path.Combine(_dir.FullName, "new.csv");
        await ReplacedFile.WriteAsync(path, w => w.WriteAsync("a,b"), default);
        Assert.Equal("a,b", await File.ReadAllTextAsync(path));
    }

    [Fact]
    public async Task A_write_that_fails_part_way_leaves_the_earlier_file_and_no_part_file()
    {
        var path = Path.Combine(_dir.FullName, "p.csv");
        await File.WriteAllTextAsync(path, "earlier report");
        await Assert.ThrowsAsync<IOException>(() => ReplacedFile.WriteAsync(path, async w =>
        {
            await w.WriteAsync("half of a new rep");
            await w.FlushAsync();
            throw new IOException("No space left on device");
        }, default));
        Assert.Equal("earlier report", await File.ReadAllTextAsync(path));   // was truncated to the half written
        Assert.Equal(["p.csv"], _dir.GetFiles().Select(f => f.Name));
    }

    [Fact]
    public async Task A_relative_link_under_a_linked_folder_is_followed_from_its_real_folder()
    {
        // alias -> real/sub, and sub/latest.html -> ../reports/p.html: the target is real/reports/p.html; taken from the
        // path as written (alias/../reports), it was a folder that does not exist, and the report was not written.
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "real", "sub"));
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "real", "reports"));
        var report = Path.Combine(_dir.FullName, "real", "reports", "p.html");
        await File.WriteAllTextAsync(report, "old");
        File.CreateSymbolicLink(Path.Combine(_dir.FullName, "real", "sub", "latest.html"), "../reports/p.html");
        Directory.CreateSymbolicLink(Path.Combine(_dir.FullName, "alias"), Path.Combine(_dir.FullName, "real", "sub"));

        await ReplacedFile.WriteAsync(Path.Combine(_dir.FullName, "alias", "latest.html"), w => w.WriteAsync("new"), default);

        Assert.Equal("new", await File.ReadAllTextAsync(report));
        Assert.NotNull(new FileInfo(Path.Combine(_dir.FullName, "real", "sub", "latest.html")).LinkTarget);   // still a link
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_fifo_or_a_link_to_one_is_written_into_not_replaced()
    {
        // A rename put a regular file in the FIFO's place, and its reader waited for ever (for root, --csv /dev/null
        // replaced /dev/null).
        var fifo = Path.Combine(_dir.FullName, "out.csv");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
            await mkfifo.WaitForExitAsync();
        var link = Path.Combine(_dir.FullName, "latest.csv");
        File.CreateSymbolicLink(link, fifo);
        foreach (var (written, text) in new[] { (fifo, "a,b"), (link, "c,d") })
        {
            var reader = Task.Run(() => File.ReadAllText(fifo));
            await ReplacedFile.WriteAsync(written, w => w.WriteAsync(text), default);
            Assert.Equal(text, await reader.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.False(NfcPipeline.Imaging.FileTypes.IsRegularFileOrUnknown(fifo));   // still the FIFO
        }
        Assert.Equal(["latest.csv", "out.csv"], _dir.GetFileSystemInfos().Select(f => f.Name).Order());
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // file modes and the deployment are Linux's
    public async Task A_replaced_file_keeps_its_permissions_and_a_link_is_written_through()
    {
        var path = Path.Combine(_dir.FullName, "p.html");
        await File.WriteAllTextAsync(path, "old");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var link = Path.Combine(_dir.FullName, "latest.html");
        File.CreateSymbolicLink(link, path);

        await ReplacedFile.WriteAsync(link, w => w.WriteAsync("new"), default);

        Assert.Equal("new", await File.ReadAllTextAsync(path));
        Assert.NotNull(new FileInfo(link).LinkTarget);   // still a link
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        // While it is written, too: the temporary file was created readable by all and narrowed at the end.
        UnixFileMode? whileWritten = null;
        await ReplacedFile.WriteAsync(path, async w =>
        {
            await w.WriteAsync("newer");
            whileWritten = File.GetUnixFileMode(_dir.GetFiles(".p.html.*.tmp").Single().FullName);
        }, default);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, whileWritten);
    }
}
