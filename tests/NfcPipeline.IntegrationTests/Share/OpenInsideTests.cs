using NfcPipeline.Imaging;
using NfcPipeline.Intake;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.IntegrationTests.Share;

/// <summary>Share files are checked on the open file: what the decoder reads through SharePaths.OpenInside.</summary>
public sealed class OpenInsideTests : IDisposable
{
    private readonly DirectoryInfo _share = Directory.CreateTempSubdirectory("nfc-confined-");
    private readonly DirectoryInfo _outside = Directory.CreateTempSubdirectory("nfc-outside-");

    public void Dispose()
    {
        _share.Delete(recursive: true);
        _outside.Delete(recursive: true);
    }

    [Fact]
    public void A_file_that_leads_out_of_the_share_when_opened_is_refused()
    {
        var image = Path.Combine(TestServices.RepoRoot, "tests", "fixtures", "images", "gradient.jpg");
        string inside = Path.Combine(_share.FullName, "f.jpg"), swapped = Path.Combine(_share.FullName, "g.jpg");
        File.Copy(image, inside);
        File.Copy(image, Path.Combine(_outside.FullName, "secret.jpg"));
        // The path was checked; by the time it is opened, a link leading out stands at its name.
        File.CreateSymbolicLink(swapped, Path.Combine(_outside.FullName, "secret.jpg"));
        var decoder = new ImageDecoder(null, p => SharePaths.OpenInside(p, _share.FullName));

        var error = Assert.Throws<ImageDecodeException>(() => decoder.DecodeFile(swapped));
        Assert.Equal(ImageDecodeError.Unreadable, error.Reason);
        Assert.Contains("led out of the allowed folder", error.Message);
        Assert.Equal(ImageDecodeError.Unreadable, Assert.Throws<ImageDecodeException>(() => decoder.ReadHeaderFile(swapped)).Reason);
        Assert.True(decoder.DecodeFile(inside).Width > 0);   // inside: decoded as before
    }

    [Fact]
    public async Task A_FIFO_or_folder_at_the_name_when_opened_is_refused_without_blocking()
    {
        // The callers check a path's type before opening it; a FIFO swapped in after that check must not hang the
        // reader (opening a FIFO blocks until a writer comes).
        string fifo = Path.Combine(_share.FullName, "field1.jpg"), folder = Path.Combine(_share.FullName, "field2.jpg");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo)) await mkfifo.WaitForExitAsync();
        Directory.CreateDirectory(folder);

        var open = Task.Run(() => SharePaths.OpenInside(fifo, _share.FullName));
        var error = await Assert.ThrowsAsync<ShareFileRefusedException>(() => open.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("not a regular file", error.Message);
        Assert.Contains("not a regular file", Assert.Throws<ShareFileRefusedException>(() => SharePaths.OpenInside(folder, _share.FullName)).Message);
        Assert.Throws<FileNotFoundException>(() => SharePaths.OpenInside(Path.Combine(_share.FullName, "gone.jpg"), _share.FullName));

        var text = Path.Combine(_share.FullName, "study.json");
        await File.WriteAllTextAsync(text, "{\"um_per_px\": 2.0}");
        await using var stream = SharePaths.OpenInside(text, _share.FullName);
        Assert.Equal("{\"um_per_px\": 2.0}", await new StreamReader(stream).ReadToEndAsync());
        Assert.False(stream.CanWrite);
    }

    [Fact]
    public async Task A_file_under_a_lease_is_opened_once_its_holder_gives_it_up()
    {
        // A Samba oplock or NFS delegation shows as a lease: the non-blocking open fails with EWOULDBLOCK and asks the
        // holder to let go. It was then opened blocking, which a FIFO swapped in meanwhile would hang; now it is tried
        // again, non-blocking, until the holder lets go.
        var file = Path.Combine(_share.FullName, "leased.jpg");
        await File.WriteAllTextAsync(file, "content");
        var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/python3",
            ["-c", LeaseHolder, file]) { RedirectStandardOutput = true })!;
        try
        {
            Assert.Equal("leased", await holder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await using var stream = await Task.Run(() => SharePaths.OpenInside(file, _share.FullName)).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(300), $"opened after {clock.Elapsed}: the lease was not in the way");
            Assert.Equal("released", await holder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal("content", await new StreamReader(stream).ReadToEndAsync());
        }
        finally { holder.Kill(); holder.Dispose(); }
    }

    /// <summary>Holds a write lease on argv[1] and gives it up 0.5 s after it is asked to (SIGIO).</summary>
    private const string LeaseHolder = """
        import fcntl, os, signal, sys, time
        fd = os.open(sys.argv[1], os.O_WRONLY)
        def broken(signum, frame):
            time.sleep(0.5)
            fcntl.fcntl(fd, 1024, fcntl.F_UNLCK)
            print("released", flush=True)
            time.sleep(60)
        signal.signal(signal.SIGIO, broken)
        fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)
        print("leased", flush=True)
        time.sleep(60)
        """;
}
