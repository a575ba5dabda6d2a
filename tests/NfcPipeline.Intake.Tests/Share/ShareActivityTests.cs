using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

/// <summary>
/// Copies whose file times do not show the copy: a file server whose clock runs behind this host's, or a tool that
/// keeps the source's times. The watcher's memory of its earlier scans dates the changes it saw.
/// </summary>
public sealed class ShareActivityTests : IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    private readonly TestShare _share = new();
    private readonly ManualClock _clock = new(TestShare.T0 + TimeSpan.FromHours(1));
    private readonly ShareActivityMemory _memory = new();

    public void Dispose() => _share.Dispose();

    private StudyFolder ScanOne(string folder, ShareActivityMemory? memory) =>
        new ShareScanner(_clock).Scan(_share.Root, new ShareScanOptions { SettleTime = Settle, Memory = memory })
            .Folders.Single(f => f.Folder == folder);

    private void Advance(int seconds) => _clock.Now += TimeSpan.FromSeconds(seconds);

    [Fact]
    public void A_copy_stamped_an_hour_in_the_past_waits_for_the_settle_time_from_the_scan_that_saw_its_last_change()
    {
        // The manifest came first, as a copy of a whole folder may bring it; every time the file server stamps is
        // an hour behind this host's clock.
        _share.Touch("s1/study.json", """{"study_id":"S-1"}""");
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        Assert.Equal(StudyReadiness.Ready, ScanOne("s1", memory: null).Readiness);   // file times alone: half copied, yet "settled"

        var first = ScanOne("s1", _memory);                                           // first sight: a copy may be running
        Assert.Equal(StudyReadiness.Settling, first.Readiness);
        Assert.Contains("first seen by this worker's scans 0 s ago", first.Reason);
        Assert.Equal(_clock.Now + Settle, first.SettlesAt);
        Advance(10);
        _share.Touch("s1/P001/L2/f2.jpg", "image-2");                                 // the copy goes on
        var settling = ScanOne("s1", _memory);
        Assert.Equal(StudyReadiness.Settling, settling.Readiness);
        Assert.Contains("seen changing by a scan 0 s ago", settling.Reason);
        Assert.Contains("clock runs behind", settling.Reason);

        Advance(29);
        Assert.Contains("seen changing by a scan 29 s ago", ScanOne("s1", _memory).Reason);
        Advance(1);
        Assert.Equal(StudyReadiness.Ready, ScanOne("s1", _memory).Readiness);
    }

    [Fact]
    public void The_settle_time_counts_from_the_scan_that_saw_the_change_and_further_unchanged_scans_do_not_restart_it()
    {
        _share.Touch("s1/READY");
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        ScanOne("s1", _memory);
        Advance(10);
        _share.Touch("s1/P001/L2/f1.jpg.part", "partial");   // a temporary file shows the copy
        ScanOne("s1", _memory);                                // seen at T+10
        Advance(10);
        Assert.Equal(StudyReadiness.Settling, ScanOne("s1", _memory).Readiness);   // 10 s after
        Advance(19);
        Assert.Equal(StudyReadiness.Settling, ScanOne("s1", _memory).Readiness);   // 29 s
        Advance(1);
        Assert.Equal(StudyReadiness.Ready, ScanOne("s1", _memory).Readiness);      // 30 s after the scan that saw the change
    }

    [Fact]
    public void A_growing_file_keeps_the_folder_settling_even_while_its_time_stays_old()
    {
        _share.Touch("s1/READY");
        var image = _share.Touch("s1/P001/L2/f1.jpg", "image");
        ScanOne("s1", _memory);
        for (int i = 0; i < 6; i++)
        {
            Advance(10);
            File.AppendAllText(image, "more bytes");
            File.SetLastWriteTimeUtc(image, TestShare.T0.UtcDateTime);   // the copy keeps the source's time
            Assert.Equal(StudyReadiness.Settling, ScanOne("s1", _memory).Readiness);
        }
        Advance(30);
        Assert.Equal(StudyReadiness.Ready, ScanOne("s1", _memory).Readiness);
    }

    [Fact]
    public void Unmarked_folders_are_remembered_so_a_marker_arriving_mid_copy_does_not_make_the_copy_settled()
    {
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        Assert.Equal(StudyReadiness.NoMarker, ScanOne("s1", _memory).Readiness);
        Advance(10);
        _share.Touch("s1/READY");
        Assert.Equal(StudyReadiness.Settling, ScanOne("s1", _memory).Readiness);
        Advance(30);
        Assert.Equal(StudyReadiness.Ready, ScanOne("s1", _memory).Readiness);
    }

    [Fact]
    public void The_memory_forgets_folders_that_are_gone()
    {
        _share.Touch("s1/READY");
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        ScanOne("s1", _memory);
        Directory.Delete(Path.Combine(_share.Root, "s1"), recursive: true);
        new ShareScanner(_clock).Scan(_share.Root, new ShareScanOptions { SettleTime = Settle, Memory = _memory });

        // Copied again, as new, with old times: judged as at first sight, not as a change to the folder that was there.
        Advance(10);
        _share.Touch("s1/READY");
        _share.Touch("s1/P001/L2/f9.jpg", "image-9");
        Assert.Contains("first seen by this worker's scans 0 s ago", ScanOne("s1", _memory).Reason);
        Assert.True(_memory.Observe("gone", "x", _clock.Now).FirstSight);
    }

    [Fact]
    public void A_folder_is_dated_when_a_long_scan_reaches_it_not_when_the_scan_began()
    {
        _share.Touch("s1/READY");
        _share.Touch("s1/P001/L2/f1.jpg", "image-1");
        var start = _clock.Now;
        // Scan 1 began at start and reached s1 55 s later (a cold file server); scan 2 began and reached it at start + 61.
        var clock = new ScriptedClock(start, start + TimeSpan.FromSeconds(55), start + TimeSpan.FromSeconds(61), start + TimeSpan.FromSeconds(61));
        var scanner = new ShareScanner(clock);
        scanner.Scan(_share.Root, new ShareScanOptions { SettleTime = Settle, Memory = _memory });

        var second = scanner.Scan(_share.Root, new ShareScanOptions { SettleTime = Settle, Memory = _memory }).Folders.Single();

        // Seen 6 s apart, not 61: still settling (a copy may have been running when the first scan got there).
        Assert.Equal(StudyReadiness.Settling, second.Readiness);
        Assert.Contains("first seen by this worker's scans 6 s ago", second.Reason);
    }

    /// <summary>Answers the given times in turn, one per call.</summary>
    private sealed class ScriptedClock(params DateTimeOffset[] times) : TimeProvider
    {
        private int _next;
        public override DateTimeOffset GetUtcNow() => times[_next++];
    }
}
