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
