using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

/// <summary>
/// A folder of millions of files (an archive dropped into the share) must not hold the scan or the worker's memory:
/// the scan and registration both stop listing past <see cref="StudyLayout.MaxEntries"/> and say why.
/// </summary>
public sealed class StudyEntryLimitTests : IDisposable
{
    private const int Limit = 8;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    private readonly TestShare _share = new();

    public void Dispose() => _share.Dispose();

    /// <summary>A marked study of <paramref name="images"/> images in one finger folder: images + 3 folders + the marker listed.</summary>
    private string MakeStudy(string folder, int images, string? marker = "READY")
    {
        for (int i = 0; i < images; i++) _share.Touch($"{folder}/P001/L2/f{i}.jpg", $"image-{i}");
        if (marker is not null) _share.Touch($"{folder}/{marker}", "");
        _share.StampAll(TestShare.T0);
        return Path.Combine(_share.Root, folder);
    }

    private StudyFolder ScanOne(string folder) =>
        new ShareScanner(new ManualClock(TestShare.T0 + Settle))
            .Scan(_share.Root, new ShareScanOptions { SettleTime = Settle, MaxStudyEntries = Limit })
            .Folders.Single(f => f.Folder == folder);

    [Fact]
    public void Registration_lists_a_study_up_to_the_limit_and_refuses_one_past_it_saying_why()
    {
        var atLimit = MakeStudy("s1", images: Limit - 3);   // P001, L2, READY and 5 images: 8 entries
        Assert.Equal(Limit - 3, StudyLayout.Discover(atLimit, _share.Root, maxEntries: Limit).Images.Count);

        var pastLimit = MakeStudy("s2", images: Limit - 2);
        var ex = Assert.Throws<StudyLayoutException>(() => StudyLayout.Discover(pastLimit, _share.Root, maxEntries: Limit));
        Assert.Equal(StudyLayout.TooManyEntries(Limit), ex.Message);
        Assert.Contains("more than 8 files and folders", ex.Message);
        Assert.Contains("Split it into smaller studies", ex.Message);
    }

    [Fact]
    public void Hidden_and_skipped_entries_count_towards_the_limit_as_they_are_listed_too()
    {
        var study = MakeStudy("s1", images: 2);
        for (int i = 0; i < Limit; i++) _share.Touch($"s1/P001/.thumb{i}");

        Assert.Throws<StudyLayoutException>(() => StudyLayout.Discover(study, _share.Root, maxEntries: Limit));
        Assert.Throws<StudyTooLargeException>(() => StudyFingerprint.Compute(study, _share.Root, maxEntries: Limit));
    }

    [Fact]
    public void The_scan_refuses_a_marked_folder_past_the_limit_with_registrations_reason_and_readies_one_within_it()
    {
        MakeStudy("small", images: Limit - 3);
        MakeStudy("large", images: Limit);

        Assert.Equal(StudyReadiness.Ready, ScanOne("small").Readiness);
        var large = ScanOne("large");
        Assert.Equal(StudyReadiness.Refused, large.Readiness);
        Assert.Equal(ReadyMarker.ReadyFile, large.Marker);
        Assert.Equal(StudyLayout.TooManyEntries(Limit), large.Reason);
    }

    [Fact]
    public void An_unmarked_folder_past_the_limit_is_an_unmarked_folder_not_a_refused_study()
    {
        MakeStudy("archive", images: Limit * 2, marker: null);

        var folder = ScanOne("archive");

        Assert.Equal(StudyReadiness.NoMarker, folder.Readiness);
        Assert.Null(folder.Fingerprint);
    }

    [Fact]
    public void The_limit_is_the_same_for_the_scan_and_for_registration_and_fits_a_large_study()
    {
        Assert.Equal(StudyLayout.MaxEntries, new ShareScanOptions().MaxStudyEntries);
        Assert.True(StudyLayout.MaxEntries >= 1_000 * 8 * 4 * 2, "a study of 1,000 patients, 8 fingers and 4 fields (with a note each) fits");
    }
}
