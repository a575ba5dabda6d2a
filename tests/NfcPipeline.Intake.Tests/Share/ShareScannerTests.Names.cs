using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

/// <summary>Study folders' and manifests' names: what the worker would refuse, and spellings a mount may read alike.</summary>
public sealed partial class ShareScannerTests
{
    [Fact]
    public void A_study_folder_named_by_spaces_alone_is_refused_rather_than_published_for_the_worker_to_refuse()
    {
        // The worker reads its path as empty: published, it was refused at every back-off.
        MakeStudy("  ");
        MakeStudy("\u00A0");
        _clock.Now = TestShare.T0 + Settle;

        var folders = Scan().Folders;
        Assert.Equal(2, folders.Count);
        Assert.All(folders, f => Assert.Equal((StudyReadiness.Refused, "the folder is left out: " + SharePaths.BlankNameReason), (f.Readiness, f.Reason)));
    }

    [Fact]
    public void An_edit_to_a_manifest_in_other_letter_cases_changes_the_fingerprint()
    {
        // A mount that ignores case reads "Study.json" as the manifest: its new scale must resubmit the study.
        MakeStudy("s1");
        var folder = Path.Combine(_share.Root, "s1");
        _share.Touch("s1/Study.json", """{"um_per_px": 2.0}""", at: TestShare.T0);
        var before = StudyFingerprint.Compute(folder, _share.Root);

        _share.Touch("s1/Study.json", """{"um_per_px": 1.25}""", at: TestShare.T0 + TimeSpan.FromMinutes(1));
        var after = StudyFingerprint.Compute(folder, _share.Root);

        Assert.NotEqual(before.Fingerprint, after.Fingerprint);
        Assert.Equal(2, after.FileCount);   // the images alone
    }
}
