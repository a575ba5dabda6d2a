using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

/// <summary>A scan's progress moves on within a large folder, not only from folder to folder.</summary>
public sealed class ScanProgressTests : IDisposable
{
    private readonly TestShare _share = new();

    public void Dispose() => _share.Dispose();

    [Fact]
    public void A_folder_of_many_images_advances_the_scan_every_256_entries()
    {
        // One finger folder of 100,000 images on a slow mount stat-ed for longer than Share:StallTimeout while the progress,
        // advanced per folder, stood still: the scan was abandoned as hung, on every worker in turn, and no study was submitted.
        for (int i = 0; i < 600; i++) _share.Touch($"s1/P1/L2/f{i:D4}.jpg");
        var progress = new ShareScanProgress();

        var content = StudyFingerprint.Compute(Path.Combine(_share.Root, "s1"), SharePaths.RealPath(_share.Root), default, progress);

        Assert.Equal(600, content.FileCount);
        // 3 folders, plus 2 steps of 256 entries while listing the 600 and 2 while looking at them.
        Assert.Equal(3 + 2 + 2, progress.Steps);
    }
}
