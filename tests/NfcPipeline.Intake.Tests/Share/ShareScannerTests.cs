using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

public sealed partial class ShareScannerTests : IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    private readonly TestShare _share = new();
    private readonly ManualClock _clock = new(TestShare.T0);

    public void Dispose() => _share.Dispose();

    private StudyFolder ScanOne(string folder) =>
        Scan().Folders.Single(f => f.Folder == folder);

    private ShareScan Scan() =>
        new ShareScanner(_clock).Scan(_share.Root, new ShareScanOptions { SettleTime = Settle });

    private void MakeStudy(string folder, string marker = "READY")
    {
        _share.Touch($"{folder}/P001/L2/f1.jpg", "image-1");
        _share.Touch($"{folder}/P001/R3/f2.jpg", "image-2");
        _share.Touch($"{folder}/{marker}", marker == "study.json" ? """{"study_id":"S-42"}""" : "");
        _share.StampAll(TestShare.T0);
    }

    [Fact]
    public void A_marked_folder_is_not_ready_before_the_settle_time()
    {
        MakeStudy("s1");
        _clock.Now = TestShare.T0 + Settle - TimeSpan.FromSeconds(1);

        var folder = ScanOne("s1");

        Assert.Equal(StudyReadiness.Settling, folder.Readiness);
        Assert.Null(folder.StudyId);
        Assert.Equal(TestShare.T0 + Settle, folder.SettlesAt);   // when the watcher looks again
        Assert.Equal(TestShare.T0 + Settle, Scan().EarliestSettle);
        Assert.Empty(Scan().NewlyReady(new Dictionary<string, string>()));
    }

    [Fact]
    public void A_marked_folder_is_ready_once_nothing_changed_for_the_settle_time()
    {
        MakeStudy("s1");
        _clock.Now = TestShare.T0 + Settle;

        var folder = ScanOne("s1");

        Assert.Equal(StudyReadiness.Ready, folder.Readiness);
        Assert.Equal(2, folder.FileCount);
        Assert.Equal(TestShare.T0, folder.NewestChange);
        Assert.Equal(["s1"], Scan().NewlyReady(new Dictionary<string, string>()).Select(f => f.Folder));
    }

    [Fact]
    public void A_file_written_later_restarts_the_settle_time()
    {
        MakeStudy("s1");
        _share.Touch("s1/P002/L4/late.jpg", "late", at: TestShare.T0 + TimeSpan.FromSeconds(20));

        _clock.Now = TestShare.T0 + TimeSpan.FromSeconds(40);
        Assert.Equal(StudyReadiness.Settling, ScanOne("s1").Readiness);

        _clock.Now = TestShare.T0 + TimeSpan.FromSeconds(50);
        Assert.Equal(StudyReadiness.Ready, ScanOne("s1").Readiness);
    }

    [Fact]
    public void File_times_ahead_of_this_hosts_clock_are_named_as_such_while_the_folder_waits()
    {
        MakeStudy("s1");
        _share.Touch("s1/P002/L4/ahead.jpg", "x", at: TestShare.T0 + TimeSpan.FromHours(1));
        _clock.Now = TestShare.T0 + TimeSpan.FromMinutes(5);

        var folder = ScanOne("s1");

        Assert.Equal(StudyReadiness.Settling, folder.Readiness);
        Assert.Contains("3300 s in the future", folder.Reason);
    }

    [Fact]
    public void A_temporary_upload_file_still_being_written_keeps_the_folder_settling()
    {
        MakeStudy("s1");
        _share.Touch("s1/P001/L2/f3.jpg.part", "half", at: TestShare.T0 + TimeSpan.FromSeconds(50));
        _clock.Now = TestShare.T0 + TimeSpan.FromSeconds(60);

        Assert.Equal(StudyReadiness.Settling, ScanOne("s1").Readiness);
    }

    [Fact]
    public void The_manifest_marks_a_folder_ready_and_gives_its_study_id()
    {
        MakeStudy("folder-name", marker: "study.json");
        _clock.Now = TestShare.T0 + Settle;

        var folder = ScanOne("folder-name");

        Assert.Equal(StudyReadiness.Ready, folder.Readiness);
        Assert.Equal(ReadyMarker.Manifest, folder.Marker);
        Assert.Equal("S-42", folder.StudyId);
    }

    [Fact]
    public void The_READY_marker_marks_a_folder_ready_under_the_folder_name()
    {
        MakeStudy("Study_2026");
        _clock.Now = TestShare.T0 + Settle;

        var folder = ScanOne("Study_2026");

        Assert.Equal(ReadyMarker.ReadyFile, folder.Marker);
        Assert.Equal("Study_2026", folder.StudyId);
    }

    [Theory]
    [InlineData("ready")]
    [InlineData("Ready")]
    [InlineData("READY.txt")]
    [InlineData("ready.TXT")]
    public void The_READY_marker_counts_in_any_letter_case_and_as_notepad_saves_it(string marker)
    {
        MakeStudy("s", marker);
        _clock.Now = TestShare.T0 + Settle;

        var folder = ScanOne("s");

        Assert.Equal(StudyReadiness.Ready, folder.Readiness);
        Assert.Equal(ReadyMarker.ReadyFile, folder.Marker);
        Assert.Equal(2, folder.FileCount);   // the marker is no field
    }

    [Theory]
    [InlineData("Study.json")]
    [InlineData("STUDY.JSON")]
    public void A_manifest_named_in_other_letter_cases_refuses_its_folder_rather_than_being_passed_over(string name)
    {
        // With READY beside it, the folder would have been analysed without its calibration and patient codes.
        MakeStudy("s");
        _share.Touch($"s/{name}", """{"um_per_px": 1.5, "patients": {"P001": "anon-1"}}""");
        _share.StampAll(TestShare.T0);
        _clock.Now = TestShare.T0 + Settle;

        var folder = ScanOne("s");

        Assert.Equal(StudyReadiness.Refused, folder.Readiness);
        Assert.Equal($"the manifest is named '{name}'; rename it study.json (lower case), or its settings are not read.", folder.Reason);
        var refused = Assert.Throws<StudyLayoutException>(() => StudyLayout.Discover(Path.Combine(_share.Root, "s"), _share.Root));
        Assert.Equal(folder.Reason, refused.Message);
    }

    [Fact]
    public void A_folder_with_neither_manifest_nor_marker_is_never_ready()
    {
        _share.Touch("unmarked/P001/L2/f1.jpg");
        _share.StampAll(TestShare.T0);
        _clock.Now = TestShare.T0 + TimeSpan.FromDays(30);

        var folder = ScanOne("unmarked");

        Assert.Equal(StudyReadiness.NoMarker, folder.Readiness);
        Assert.Equal(ReadyMarker.None, folder.Marker);
    }

    [Fact]
    public void A_submitted_fingerprint_is_not_submitted_again_but_a_changed_one_is()
    {
        MakeStudy("s1");
        _clock.Now = TestShare.T0 + Settle;
        var first = ScanOne("s1");
        var submitted = new Dictionary<string, string> { ["s1"] = first.Fingerprint! };

        Assert.Empty(Scan().NewlyReady(submitted));

        _share.Touch("s1/P002/L5/added.jpg", "added", at: TestShare.T0 + TimeSpan.FromMinutes(1));
        _clock.Now = TestShare.T0 + TimeSpan.FromMinutes(1) + Settle;
        var again = Assert.Single(Scan().NewlyReady(submitted));
        Assert.Equal("s1", again.Folder);
        Assert.NotEqual(first.Fingerprint, again.Fingerprint);
        Assert.Equal(3, again.FileCount);
    }

    [Fact]
    public void A_file_replaced_with_the_same_size_changes_the_fingerprint()
    {
        MakeStudy("s1");
        _clock.Now = TestShare.T0 + TimeSpan.FromMinutes(5);
        var before = ScanOne("s1").Fingerprint;

        _share.Touch("s1/P001/L2/f1.jpg", "IMAGE-1", at: TestShare.T0 + TimeSpan.FromMinutes(1));

        Assert.NotEqual(before, ScanOne("s1").Fingerprint);
    }

    [Fact]
    public void Hidden_temporary_and_status_files_neither_change_the_fingerprint_nor_delay_readiness_after_they_settle()
    {
        MakeStudy("s1");
        _clock.Now = TestShare.T0 + TimeSpan.FromMinutes(5);
        var before = ScanOne("s1").Fingerprint;

        _share.Touch("s1/P001/.DS_Store", at: TestShare.T0 + TimeSpan.FromMinutes(1));
        _share.Touch("s1/P001/L2/f9.jpg.crdownload", at: TestShare.T0 + TimeSpan.FromMinutes(1));
        _share.Touch($"s1/{StudyStatusFile.FileName}", "{}", at: _clock.Now);

        var after = ScanOne("s1");
        Assert.Equal(StudyReadiness.Ready, after.Readiness);
        Assert.Equal(before, after.Fingerprint);
    }

    [Fact]
    public void Hidden_and_temporary_folders_are_not_study_candidates()
    {
        MakeStudy(".hidden");
        MakeStudy("~copying");
        MakeStudy("upload.tmp");
        MakeStudy("real");
        _clock.Now = TestShare.T0 + Settle;

        Assert.Equal(["real"], Scan().Folders.Select(f => f.Folder));
    }

    [Fact]
    public void Files_directly_in_the_root_are_not_studies()
    {
        _share.Touch("loose.jpg");
        _share.Touch("READY");
        MakeStudy("s1");
        _clock.Now = TestShare.T0 + Settle;

        Assert.Equal(["s1"], Scan().Folders.Select(f => f.Folder));
    }

    [Fact]
    public void A_manifest_the_parser_trips_on_late_refuses_its_folder_and_the_others_are_still_scanned()
    {
        _share.Touch("bad/study.json", """{"study_id": "A", "notes": "\ud83d"}""");
        _share.Touch("bad/P001/L2/f.jpg");
        _share.Touch("good/study.json", """{"study_id": "B"}""");
        _share.Touch("good/P001/L2/f.jpg");
        _share.StampAll(TestShare.T0);
        _clock.Now = TestShare.T0 + Settle;

        var folders = Scan().Folders.ToDictionary(f => f.Folder);   // threw for the whole share

        Assert.Equal(StudyReadiness.Refused, folders["bad"].Readiness);
        Assert.Contains("surrogate", folders["bad"].Reason);
        Assert.Equal(StudyReadiness.Ready, folders["good"].Readiness);
    }

    [Fact]
    public async Task A_manifest_that_is_a_FIFO_is_refused_without_blocking_the_scan()
    {
        MakeStudy("s1");
        File.Delete(Path.Combine(_share.Root, "s1/READY"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(_share.Root, "s1/study.json"))) await mkfifo.WaitForExitAsync();
        _clock.Now = DateTimeOffset.UtcNow + TimeSpan.FromDays(1);

        var folder = await Task.Run(() => ScanOne("s1")).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(StudyReadiness.Refused, folder.Readiness);
        Assert.Contains("not a regular file", folder.Reason);
    }

    [Fact]
    public void An_invalid_manifest_or_an_empty_folder_is_refused_with_the_reason()
    {
        _share.Touch("bad/study.json", "{ not json");
        _share.Touch("bad/P001/L2/f.jpg");
        _share.Touch("empty/READY");
        _share.StampAll(TestShare.T0);
        _clock.Now = TestShare.T0 + Settle;

        var scan = Scan();

        var bad = scan.Folders.Single(f => f.Folder == "bad");
        Assert.Equal(StudyReadiness.Refused, bad.Readiness);
        Assert.Contains("not valid JSON", bad.Reason);
        var empty = scan.Folders.Single(f => f.Folder == "empty");
        Assert.Equal(StudyReadiness.Refused, empty.Readiness);
        Assert.Contains("no image files", empty.Reason);
        Assert.Empty(scan.NewlyReady(new Dictionary<string, string>()));
    }

    [Fact]
    public void Files_in_a_folder_named_like_an_image_are_not_counted_as_registration_skips_the_folder()
    {
        // Counted, a study of only such folders was ready, and refused as holding no images at every back-off.
        _share.Touch("s1/P001/L2/f1.jpg/f1.jpg");
        _share.Touch("s1/READY");
        _share.StampAll(TestShare.T0);
        _clock.Now = TestShare.T0 + Settle;
        var before = ScanOne("s1");
        Assert.Equal(StudyReadiness.Refused, before.Readiness);
        Assert.Contains("no image files", before.Reason);

        // A real field beside it is the study's one file, and a change inside the skipped folder changes nothing registered.
        _share.Touch("s1/P001/L2/f2.jpg");
        _share.StampAll(TestShare.T0);
        var ready = ScanOne("s1");
        Assert.Equal((StudyReadiness.Ready, 1), (ready.Readiness, ready.FileCount));
        _share.Touch("s1/P001/L2/f1.jpg/f1.jpg", "changed");
        _share.StampAll(TestShare.T0);
        Assert.Equal(ready.Fingerprint, ScanOne("s1").Fingerprint);
        Assert.Single(StudyLayout.Discover(Path.Combine(_share.Root, "s1"), _share.Root).Images);
    }

    [Fact]
    public void A_link_named_like_an_image_does_not_hide_the_folder_it_leads_to()
    {
        // "A.jpg" sorts before "P2": noted as visited first, it kept P2's images out of the fingerprint, so changes there
        // never resubmitted a study whose registration takes them in.
        _share.Touch("s1/P2/L2/f1.jpg");
        _share.Touch("s1/READY");
        File.CreateSymbolicLink(Path.Combine(_share.Root, "s1", "A.jpg"), "P2");
        _share.StampAll(TestShare.T0);
        _clock.Now = TestShare.T0 + Settle;

        var folder = ScanOne("s1");

        Assert.Equal((StudyReadiness.Ready, 1), (folder.Readiness, folder.FileCount));
        Assert.Single(StudyLayout.Discover(Path.Combine(_share.Root, "s1"), _share.Root).Images);
    }

    [Fact]
    public void A_missing_root_is_reported_as_unavailable()
    {
        var missing = Path.Combine(_share.Root, "not-there");

        var ex = Assert.Throws<ShareUnavailableException>(() => new ShareScanner(_clock).Scan(missing, new ShareScanOptions()));
        Assert.Contains("does not exist", ex.Message);
    }

    [Fact]
    public void Scanning_modifies_nothing_in_the_share()
    {
        MakeStudy("ready", marker: "study.json");
        MakeStudy("settling");
        _share.Touch("unmarked/P1/L2/a.png");
        _share.Touch("bad/study.json", "[]");
        _share.Touch("ready/P001/L2/.f1.jpg.swp");
        _share.StampAll(TestShare.T0);
        _share.Touch("settling/P009/L2/new.jpg", at: TestShare.T0 + TimeSpan.FromSeconds(25));
        var contentsBefore = Directory.EnumerateFiles(_share.Root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllText);
        var before = _share.Listing();
        _clock.Now = TestShare.T0 + Settle;

        for (var i = 0; i < 3; i++) Scan();

        Assert.Equal(before, _share.Listing());
        Assert.Equal(contentsBefore, Directory.EnumerateFiles(_share.Root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllText));
    }

    [Fact]
    public void A_folder_whose_name_holds_a_newline_is_refused_and_logs_show_it_without_one()
    {
        MakeStudy("line\nforged: study S-1 submitted");
        _clock.Now = TestShare.T0 + Settle;

        var folder = ScanOne("line\nforged: study S-1 submitted");

        Assert.Equal(StudyReadiness.Refused, folder.Readiness);
        Assert.Contains("control character", folder.Reason);
        Assert.Equal("line?forged: study S-1 submitted", SharePaths.Printable(folder.Folder));

        // A backslash: the worker would resolve "site\\S-2" as site/S-2, another folder or none.
        MakeStudy("site\\S-2");
        Assert.Equal(StudyReadiness.Refused, ScanOne("site\\S-2").Readiness);
        Assert.Contains("backslash", ScanOne("site\\S-2").Reason);

        // A line separator or a bidirectional override, with a usable study id: the worker refuses the path, so the
        // scanner must too (it published them at every back-off, each leaving a message in submit-study_error).
        foreach (var odd in new[] { "S\u2028x", "S\u202E1" })
        {
            MakeStudy(odd, marker: "study.json");
            var refused = ScanOne(odd);
            Assert.Equal(StudyReadiness.Refused, refused.Readiness);
            Assert.Contains("a line separator, a bidirectional override or an invisible character", refused.Reason);
        }
    }
}
