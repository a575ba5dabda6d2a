namespace NfcPipeline.Intake.Tests;

/// <summary>Study folders reached through links.</summary>
public sealed partial class StudyLayoutTests
{
    [Fact]
    public void A_study_submitted_through_a_link_is_named_by_the_link_or_its_given_id_not_by_the_target_folder()
    {
        // "S-42" leads to "archive/Studie 2024 " (a trailing space, no study id): the worker refused it for the target's
        // name, an id it was not submitted under.
        Touch("archive/Studie 2024 /P001/L2/f1.jpg");
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "S-42"), Path.Combine(_share.FullName, "archive", "Studie 2024 "));

        var (inventory, problem) = StudyLayout.ReadForSubmission(_share.FullName, "S-42");
        Assert.Null(problem);
        Assert.Equal("S-42", inventory!.StudyId);
        Assert.Equal("S-7", StudyLayout.Discover(SharePaths.ResolveUnder(_share.FullName, "S-42"), _share.FullName, "S-7").StudyId);
        Assert.Contains("starts or ends with a space", StudyLayout.SubmissionProblem(_share.FullName, "archive/Studie 2024 "));
    }

    [Theory]
    [InlineData("P02", "acq/P02")]                 // a patient folder linked into an acquisition that is away
    [InlineData("P01/L2/f2.jpg", "acq/f2.jpg")]    // a field linked to a file that is gone
    public void A_link_whose_target_is_not_there_refuses_registration_rather_than_dropping_what_it_held(string link, string target)
    {
        // Skipped as a "broken link", the study registered without it: its patient or field and their reviewers'
        // exclusions were deleted, and came back as new rows when the mount returned.
        Touch("T7/P01/L2/f1.jpg");
        Touch("acq/P02/L2/f1.jpg");
        Touch("acq/f2.jpg");
        var linkPath = Path.Combine(_share.FullName, "T7", link);
        var targetPath = Path.Combine(_share.FullName, target);
        if (Directory.Exists(targetPath)) Directory.CreateSymbolicLink(linkPath, targetPath);
        else File.CreateSymbolicLink(linkPath, targetPath);
        var study = Path.Combine(_share.FullName, "T7");
        Assert.Null(StudyLayout.RegistrationProblem(StudyLayout.Discover(study, _share.FullName)));

        Directory.Move(Path.Combine(_share.FullName, "acq"), Path.Combine(_share.FullName, "acq-away"));

        var inventory = StudyLayout.Discover(study, _share.FullName);
        Assert.Equal(link, Assert.Single(inventory.Skipped, s => s.Unreadable).RelativePath);
        Assert.StartsWith("1 folder(s) or link(s) of the study cannot be read (permissions, a share not fully mounted, or a link whose target is not there)",
            StudyLayout.RegistrationProblem(inventory));
    }

    [Fact]
    public void A_dead_link_the_study_would_not_use_is_left_out_and_refuses_nothing()
    {
        // Copied with rsync -a: a link to a file outside the share that this server never had, and a dead link to
        // notes at a field's depth. Had their targets been there, neither would have been registered.
        Touch("T8/P01/L2/f1.jpg");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "T8", "P01", "L2", "ref.jpg"), "/nonexistent-nfc-outside/old.jpg");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "T8", "P01", "L2", "notes.pdf"), "../../../acq/notes.pdf");
        // Notes at the study's and a patient's level, and a field linked to a sibling's field that was deleted (had it
        // been there, the link would have been left out as a link into the study).
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "T8", "protocol.pdf"), "../acq/protocol.pdf");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "T8", "P01", "notes.txt"), "../../acq/notes.txt");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "T8", "P01", "L2", "f2.jpg"), "../../P02/L2/f2.jpg");

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "T8"), _share.FullName);

        Assert.Null(StudyLayout.RegistrationProblem(inventory));
        Assert.Equal(["P01/L2/f2.jpg", "P01/L2/notes.pdf", "P01/L2/ref.jpg", "P01/notes.txt", "protocol.pdf"], inventory.Skipped.Select(s => s.RelativePath));
        Assert.DoesNotContain(inventory.Skipped, s => s.Unreadable);
        Assert.Single(inventory.Images);
    }

    [Fact]
    public void A_study_linked_to_a_folder_whose_path_analysis_refuses_is_refused_at_registration()
    {
        // "S1" leads to "~staging/S1": registered under the target's path, every image then failed as NotInShare.
        Touch("~staging/S1/P001/L2/f1.jpg");
        Touch("archive/S\u202E2/P001/L2/f1.jpg");
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "S1"), Path.Combine(_share.FullName, "~staging", "S1"));
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "S2"), Path.Combine(_share.FullName, "archive", "S\u202E2"));

        var tilde = Assert.Throws<StudyLayoutException>(() => SharePaths.StudySourcePath(_share.FullName, "S1"));
        Assert.StartsWith("The study folder is a link to '~staging/S1', a path analysis refuses", tilde.Message);
        var unprintable = Assert.Throws<StudyLayoutException>(() => SharePaths.StudySourcePath(_share.FullName, "S2"));
        Assert.Contains("'archive/S?2'", unprintable.Message);   // shown without the override
        // A backslash in the target's name: read again as a path it named "Study/1", here another folder.
        Touch("Study\\1/P001/L2/f1.jpg");
        Touch("Study/1/P001/L2/f1.jpg");
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "S4"), Path.Combine(_share.FullName, "Study\\1"));
        Assert.StartsWith("The study folder is a link to 'Study\\1', a path analysis refuses",
            Assert.Throws<StudyLayoutException>(() => SharePaths.StudySourcePath(_share.FullName, "S4")).Message);
        // A link to a usable folder is recorded by its target, as before.
        Touch("archive/S3/P001/L2/f1.jpg");
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "S3"), Path.Combine(_share.FullName, "archive", "S3"));
        Assert.Equal("archive/S3", SharePaths.StudySourcePath(_share.FullName, "S3"));
    }

    [Fact]
    public void Links_to_the_share_root_or_above_themselves_are_left_out_and_a_study_folder_linked_to_the_root_is_refused()
    {
        Touch("other/P001/L2/f1.jpg");
        Touch("s1/P001/L2/f1.jpg");
        Touch("s1/P002/L2/f1.jpg");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "P003"), "..");                        // the share's root
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "P002", "L3"), Path.Combine(_share.FullName, "s1"));   // above itself

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName);

        Assert.Equal(["P001/L2/f1.jpg", "P002/L2/f1.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal(2, inventory.Skipped.Count(e => e.Reason.StartsWith("link leads back to a folder that holds it", StringComparison.Ordinal)));

        File.CreateSymbolicLink(Path.Combine(_share.FullName, "everything"), ".");
        File.WriteAllText(Path.Combine(_share.FullName, "READY"), "");
        var scan = new NfcPipeline.Intake.Share.ShareScanner(TimeProvider.System).Scan(_share.FullName, new NfcPipeline.Intake.Share.ShareScanOptions { SettleTime = TimeSpan.Zero });
        var everything = scan.Folders.Single(f => f.Folder == "everything");
        Assert.Equal(NfcPipeline.Intake.Share.StudyReadiness.Refused, everything.Readiness);
        Assert.StartsWith("link leads back to a folder that holds it", everything.Reason);
    }

    [Fact]
    public void A_link_to_another_place_in_the_study_is_left_out_and_never_takes_the_real_folder_s_place()
    {
        // P01/L2 -> ../P02/L2: walked first (name order), P02's images were registered as P01's, and the real P02/L2 was
        // skipped as "a link loop". A file link to a sibling file put one field under two patients.
        Touch("s1/P01/L3/f1.jpg");
        Touch("s1/P02/L2/f1.jpg");
        Touch("s1/P02/L2/f2.jpg");
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "P01", "L2"), Path.Combine("..", "P02", "L2"));
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "P01", "L3", "f2.jpg"), Path.Combine("..", "..", "P02", "L2", "f2.jpg"));

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName);

        Assert.Equal(["P01/L3/f1.jpg", "P02/L2/f1.jpg", "P02/L2/f2.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal(["P01/L2", "P01/L3/f2.jpg"], inventory.Skipped.Where(e => e.Reason.StartsWith("a link to another place in this study", StringComparison.Ordinal))
            .Select(e => e.RelativePath));
    }

    [Fact]
    public void A_link_to_a_place_in_the_study_the_walk_passes_over_is_followed()
    {
        // Its target hidden (.originals) or deeper than the layout: skipped as "registered there", it was registered nowhere.
        Touch("s1/.originals/P01-L2/f1.jpg");
        Touch("s1/archive/2024/P02/L2/f1.jpg");
        Directory.CreateDirectory(Path.Combine(_share.FullName, "s1", "P01"));
        Directory.CreateDirectory(Path.Combine(_share.FullName, "s1", "P02"));
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "P01", "L2"), Path.Combine("..", ".originals", "P01-L2"));
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "P02", "L2"), Path.Combine("..", "archive", "2024", "P02", "L2"));

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName);

        Assert.Equal(["P01/L2/f1.jpg", "P02/L2/f1.jpg"], inventory.Images.Select(i => i.RelativePath));
    }

    [Fact]
    public void Two_links_to_one_file_outside_the_study_register_it_once()
    {
        Touch("library/reference.jpg");
        Touch("s1/P01/L2/f1.jpg");
        Directory.CreateDirectory(Path.Combine(_share.FullName, "s1", "P02", "L2"));
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "P01", "L2", "ref.jpg"), Path.Combine(_share.FullName, "library", "reference.jpg"));
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "P02", "L2", "ref.jpg"), Path.Combine(_share.FullName, "library", "reference.jpg"));

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName);

        Assert.Equal(["P01/L2/f1.jpg", "P01/L2/ref.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal("another link to a file already in this study; registered once", Assert.Single(inventory.Skipped).Reason);
    }
}
