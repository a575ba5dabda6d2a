using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

public sealed class MountPointTests : IDisposable
{
    private readonly TestShare _share = new();

    public void Dispose() => _share.Dispose();

    [Fact]
    public void The_kernels_mount_points_are_told_from_plain_folders()
    {
        Assert.True(MountPoints.IsMountPoint("/"));
        Assert.True(MountPoints.IsMountPoint("/proc"));
        Assert.True(MountPoints.IsMountPoint("/proc/"));
        Assert.False(MountPoints.IsMountPoint(_share.Root));
        Assert.False(MountPoints.IsMountPoint("/proc/self/fd"));
    }

    [Fact]
    public void A_mount_point_through_a_link_counts_as_the_mount_point()
    {
        var link = Path.Combine(_share.Root, "proc-link");
        File.CreateSymbolicLink(link, "/proc");
        Assert.True(MountPoints.IsMountPoint(link));
    }

    [Theory]
    [InlineData("36 35 98:0 /mnt1 /mnt/share rw,noatime master:1 - ext3 /dev/root rw", "/mnt/share")]
    [InlineData(@"40 25 0:44 / /mnt/nfc\040share rw,relatime - cifs //server/nfc rw", "/mnt/nfc share")]
    [InlineData(@"41 25 0:45 / /mnt/back\134slash\011tab rw - tmpfs tmpfs rw", "/mnt/back\\slash\ttab")]
    [InlineData("42 25 0:46 / /mnt/Müller rw - tmpfs tmpfs rw", "/mnt/Müller")]   // the kernel escapes only the four above
    [InlineData(@"43 25 0:47 / /mnt/not\99octal rw - tmpfs tmpfs rw", @"/mnt/not\99octal")]
    [InlineData("short line", null)]
    public void A_mountinfo_line_gives_its_mount_point_with_escapes_decoded(string line, string? expected) =>
        Assert.Equal(expected, MountPoints.MountPointOf(line));

    [Fact]
    public void A_scan_that_requires_a_mount_point_refuses_a_plain_folder()
    {
        _share.Touch("s1/READY", "");
        var scanner = new ShareScanner(new ManualClock(TestShare.T0));

        var error = Assert.Throws<ShareUnavailableException>(() => scanner.Scan(_share.Root, new ShareScanOptions { RequireMountPoint = true }));
        Assert.Contains("is not a mount point", error.Message);
        Assert.Contains("s1", scanner.Scan(_share.Root, new ShareScanOptions()).Folders.Select(f => f.Folder));
    }

    [Fact]
    public void A_cancelled_scan_stops_between_folders()
    {
        _share.Touch("s1/P001/L2/f1.jpg", "image");
        _share.Touch("s2/P001/L2/f1.jpg", "image");
        using var cancelled = new CancellationTokenSource();
        // The scan reads the clock once for the root and once per folder: cancelled as it looks at s1, s2 is not looked at.
        var clock = new CancellingClock(cancelled, atCall: 2);

        Assert.ThrowsAny<OperationCanceledException>(() => new ShareScanner(clock).Scan(_share.Root, new ShareScanOptions(), cancelled.Token));
        Assert.Equal(2, clock.Calls);
    }

    private sealed class CancellingClock(CancellationTokenSource cancel, int atCall) : TimeProvider
    {
        public int Calls { get; private set; }

        public override DateTimeOffset GetUtcNow()
        {
            if (++Calls == atCall) cancel.Cancel();
            return TestShare.T0;
        }
    }
}
