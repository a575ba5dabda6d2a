using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

/// <summary>
/// A study.json that is a link, or not a file: refused with its reason, never read as "no manifest" (the study would be
/// taken without its calibration, and its patient folders' names stored as codes).
/// </summary>
public sealed class ManifestLinkTests : IDisposable
{
    private readonly TestShare _share = new();
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow + TimeSpan.FromDays(1));

    public void Dispose() => _share.Dispose();

    private string ManifestPath => Path.Combine(_share.Root, "s1", StudyManifest.FileName);

    private StudyFolder ScanStudy()
    {
        _share.Touch("s1/Doe Jane/L2/f1.jpg", "image-1");
        _share.StampAll(TestShare.T0);
        return new ShareScanner(_clock).Scan(_share.Root, new ShareScanOptions { SettleTime = TimeSpan.FromSeconds(30) })
            .Folders.Single(f => f.Folder == "s1");
    }

    [Fact]
    public void Links_inside_the_share_are_fingerprinted_by_their_targets_size_and_time()
    {
        // A field linked from a pool still being copied, a manifest linked from a site template: the link's own size
        // and time never change, so the study settled on a partial image and a template's correction never resubmitted it.
        var pooled = _share.Touch(".pool/a.jpg", "part");
        var template = _share.Touch("templates/site.json", """{"um_per_px": 2.0}""");
        Directory.CreateDirectory(Path.Combine(_share.Root, "s1", "P1", "L2"));
        File.CreateSymbolicLink(Path.Combine(_share.Root, "s1", "P1", "L2", "f1.jpg"), pooled);
        File.CreateSymbolicLink(ManifestPath, template);
        var study = Path.Combine(_share.Root, "s1");
        var realRoot = SharePaths.RealPath(_share.Root);
        var before = StudyFingerprint.Compute(study, realRoot);
        Assert.Equal(1, before.FileCount);

        _share.Touch(".pool/a.jpg", "the whole image", TestShare.T0 + TimeSpan.FromMinutes(5));
        var copied = StudyFingerprint.Compute(study, realRoot);
        Assert.NotEqual(before.Fingerprint, copied.Fingerprint);
        Assert.NotEqual(before.Activity, copied.Activity);

        _share.Touch("templates/site.json", """{"um_per_px": 2.5}""", TestShare.T0 + TimeSpan.FromMinutes(10));
        Assert.NotEqual(copied.Fingerprint, StudyFingerprint.Compute(study, realRoot).Fingerprint);
    }

    [Fact]
    public void A_manifest_that_is_a_link_leading_outside_is_refused()
    {
        File.WriteAllText(Path.Combine(_share.Outside, "study.json"), """{"study_id":"x"}""");
        Directory.CreateDirectory(Path.GetDirectoryName(ManifestPath)!);
        File.CreateSymbolicLink(ManifestPath, Path.Combine(_share.Outside, "study.json"));

        var folder = ScanStudy();

        Assert.Equal(StudyReadiness.Refused, folder.Readiness);
        Assert.Contains("outside the share", folder.Reason);
    }

    [Theory]
    [InlineData("dangling", "broken link")]
    [InlineData("loop", "link loops")]
    [InlineData("folder", "a folder, not a file")]
    public void A_manifest_that_cannot_be_read_as_a_file_refuses_its_folder(string kind, string expected)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(ManifestPath)!);
        switch (kind)
        {
            case "dangling": File.CreateSymbolicLink(ManifestPath, Path.Combine(_share.Root, "templates/site.json")); break;
            case "loop": File.CreateSymbolicLink(ManifestPath, ManifestPath); break;
            default: Directory.CreateDirectory(ManifestPath); _share.Touch("s1/READY", ""); break;
        }

        var folder = ScanStudy();

        // A folder so named is no marker (READY marks this one): registration refuses it.
        if (kind != "folder")
        {
            Assert.Equal(StudyReadiness.Refused, folder.Readiness);
            Assert.Contains(expected, folder.Reason);
            Assert.DoesNotContain("Doe", folder.Reason);
        }
        // The CLI's and the API's submissions read the study the same way.
        var message = Assert.Throws<StudyLayoutException>(() => StudyLayout.Discover(Path.Combine(_share.Root, "s1"), _share.Root)).Message;
        Assert.Contains(expected, message);
    }
}
