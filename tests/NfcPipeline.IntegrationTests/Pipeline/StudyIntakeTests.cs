using NfcPipeline.Contracts;
using NfcPipeline.Intake;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker;
using NfcPipeline.Worker.Registration;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>What the worker refuses in a SubmitStudy before registering anything, and how it says so.</summary>
public sealed class StudyIntakeTests : IDisposable
{
    private readonly DirectoryInfo _share = Directory.CreateTempSubdirectory("nfc-intake-");

    public void Dispose() => _share.Delete(recursive: true);

    private StudyLayoutException Refused(SubmitStudy message) =>
        Assert.Throws<StudyLayoutException>(() => new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }).Read(message));

    [Fact]
    public void A_listed_image_that_cannot_be_resolved_is_named_by_its_place_not_its_path()
    {
        // The refusal is logged with the fault; listed paths carry patient folder names.
        var error = Refused(new SubmitStudy { StudyId = "S", Images = [new("S/Doe-Jane-1961/L2/f1.jpg", "P1", "L2")] });
        Assert.StartsWith("Image 1 of the list: its path does not exist", error.Message);
        Assert.DoesNotContain("Doe", error.Message);
    }

    [Fact]
    public void A_FolderPath_naming_a_file_is_refused_without_the_path_which_names_a_patient()
    {
        Directory.CreateDirectory(Path.Combine(_share.FullName, "S", "Doe-Jane-1961", "L2"));
        File.WriteAllBytes(Path.Combine(_share.FullName, "S", "Doe-Jane-1961", "L2", "f1.jpg"), [0xFF, 0xD8]);
        var error = Refused(new SubmitStudy { StudyId = "S", FolderPath = "S/Doe-Jane-1961/L2/f1.jpg" });
        Assert.Equal("The FolderPath names a file, not a study folder.", error.Message);
    }

    [Fact]
    public void A_folder_and_a_list_of_images_together_are_refused_rather_than_the_list_dropped()
    {
        var error = Refused(new SubmitStudy { StudyId = "S", FolderPath = "S", Images = [new("S/P1/L2/f1.jpg", "P1", "L2")] });
        Assert.Equal("SubmitStudy takes a FolderPath or a list of Images, not both.", error.Message);
    }

    [Fact]
    public void A_list_of_more_images_than_a_studys_walk_may_list_is_refused_before_any_is_looked_at()
    {
        var images = Enumerable.Range(0, StudyLayout.MaxEntries + 1).Select(i => new SubmittedImage($"S/P1/L2/f{i}.jpg", "P1", "L2")).ToList();
        Assert.Equal($"At most {StudyLayout.MaxEntries:N0} images may be listed in one SubmitStudy ({images.Count:N0} were); split the study.",
            Refused(new SubmitStudy { StudyId = "S", Images = images }).Message);
    }

    [Fact]
    public void A_folder_past_the_entry_limit_is_refused_with_the_reason_not_retried_as_changing()
    {
        // Grown past the limit after the scan (or the API's check): the fingerprint's walk gives up, and the read refuses it.
        for (int i = 0; i < 6; i++)
        {
            Directory.CreateDirectory(Path.Combine(_share.FullName, "S", "P1", "L2"));
            File.WriteAllBytes(Path.Combine(_share.FullName, "S", "P1", "L2", $"f{i}.jpg"), [0xFF, 0xD8]);
        }
        var intake = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }) { MaxStudyEntries = 5 };
        var error = Assert.Throws<StudyLayoutException>(() => intake.ReadUnchanged(new SubmitStudy { StudyId = "S", FolderPath = "S" }));
        Assert.Equal(StudyLayout.TooManyEntries(5), error.Message);
    }

    [Fact]
    public void One_path_listed_twice_or_a_NUL_in_the_device_is_refused_with_the_reason()
    {
        Directory.CreateDirectory(Path.Combine(_share.FullName, "S", "P1", "L2"));
        File.WriteAllBytes(Path.Combine(_share.FullName, "S", "P1", "L2", "f1.jpg"), [0xFF, 0xD8]);
        Assert.Contains("listed 2 times", Refused(new SubmitStudy
        {
            StudyId = "S", Images = [new("S/P1/L2/f1.jpg", "P1", "L2"), new("S\\P1\\L2\\f1.jpg", "P1", "L2")],
        }).Message);
        // Two spellings of one file, or a link to it: one field counted twice in its patient's statistics.
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "S", "P1", "L2", "f2.jpg"), "f1.jpg");
        foreach (var other in new[] { "S/P1//L2/f1.jpg", "S/P1/L2/f2.jpg" })
            Assert.Contains("listed 2 times", Refused(new SubmitStudy
            {
                StudyId = "S", Images = [new("S/P1/L2/f1.jpg", "P1", "L2"), new(other, "P1", "L2")],
            }).Message);
        Assert.Contains("NUL", Refused(new SubmitStudy { StudyId = "S", FolderPath = "S", Device = "cap\0" }).Message);
    }

    [Fact]
    public void A_refused_folder_is_noted_under_the_root_its_watcher_keys_notes_by()
    {
        // The worker reaches the share as /data/nfc, the watcher as /mnt/nfc: noted under the worker's path, the refusal
        // was never found by the watcher, and the folder never submitted again.
        var options = new WorkerOptions { ShareRoot = "/data/nfc" };
        Assert.Equal(("/mnt/nfc", "S"), SubmitStudyConsumer.ShareFolder(new SubmitStudy { StudyId = "S", FolderPath = "S/", ShareRootKey = "/mnt/nfc" }, options));
        Assert.Equal((NfcPipeline.Worker.Share.ShareWatcherService.NormaliseRoot("/data/nfc"), "S"),
            SubmitStudyConsumer.ShareFolder(new SubmitStudy { StudyId = "S", FolderPath = "S" }, options));   // from the CLI or the API

        // A key no note can be stored under (a NUL failed the insert after the registration had committed): refused,
        // and the refusal noted under the worker's own root.
        var bad = new SubmitStudy { StudyId = "S", FolderPath = "S", ShareRootKey = "/mnt/nfc\0" };
        Assert.Contains("ShareRootKey must be a path of at most 4096 characters without control characters", Assert.Throws<StudyLayoutException>(
            () => new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }).CheckMessage(bad)).Message);
        Assert.Equal((NfcPipeline.Worker.Share.ShareWatcherService.NormaliseRoot("/data/nfc"), "S"), SubmitStudyConsumer.ShareFolder(bad, options));
    }

    [Fact]
    public async Task A_FIFO_named_like_an_image_is_a_stand_in_refused_for_what_it_is_not_a_moments_trouble()
    {
        // Unread (a cause that may pass) keeps a registered row as it was; a FIFO never becomes readable.
        var finger = Path.Combine(_share.FullName, "S", "P1", "L2");
        Directory.CreateDirectory(finger);
        File.WriteAllBytes(Path.Combine(finger, "f1.jpg"), [0xFF, 0xD8]);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(finger, "f2.jpg"))) await mkfifo.WaitForExitAsync();
        var intake = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName });
        var images = intake.Read(new SubmitStudy { StudyId = "S", FolderPath = "S" }).Images.OrderBy(i => i.Field).ToList();
        Assert.Equal([("f1", false, 2L), ("f2", false, 0L)], images.Select(i => (i.Field, i.Unread, i.SizeBytes)));
        Assert.Throws<ShareFileRefusedException>(() => SharePaths.OpenInside(Path.Combine(finger, "f2.jpg"), SharePaths.RealPath(_share.FullName)));
        // An unread file's size by stat is its target's through a link, as registration read it; -1 where none answers.
        File.CreateSymbolicLink(Path.Combine(finger, "f3.jpg"), Path.Combine(finger, "f1.jpg"));
        Assert.Equal(2L, StudyIntake.StatSize(Path.Combine(finger, "f3.jpg")));
        Assert.Equal(-1L, StudyIntake.StatSize(Path.Combine(finger, "gone.jpg")));
    }

    [Fact]
    public void A_file_whose_stamp_is_unchanged_keeps_its_hash_unread_and_a_replaced_one_is_read_even_with_its_time_kept()
    {
        var finger = Path.Combine(_share.FullName, "S", "P1", "L2");
        Directory.CreateDirectory(finger);
        var path = Path.Combine(finger, "f1.jpg");
        File.WriteAllBytes(path, [0xFF, 0xD8, 1, 2, 3]);
        var folder = new SubmitStudy { StudyId = "S", FolderPath = "S" };
        // Just written: within the racy window (a second write in the same tick of a coarse clock would not show), no stamp.
        Assert.Null(Assert.Single(new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }).Read(folder).Images).FileStamp);

        var intake = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }) { Clock = new Later(TimeSpan.FromMinutes(1)) };
        var first = intake.Read(folder);
        var image = Assert.Single(first.Images);
        Assert.NotNull(image.FileStamp);
        var known = new KnownFiles(first.SourcePath, new Dictionary<string, KnownFile>
            { [image.RelativePath] = new(image.Sha256, image.SizeBytes, image.FileStamp!, image.Width, image.Height, image.Format) });
        ImageRegistration Again(KnownFiles? k, SubmitStudy? message = null) => Assert.Single(intake.Read(message ?? folder, known: k).Images);

        var kept = Again(known);
        Assert.Equal((true, image.FileStamp), (kept.HashKept, kept.FileStamp));
        Assert.Equal(1, intake.Read(folder, known: known).UnchangedFiles);
        // Read again: with no known files, known from another folder or for a list.
        Assert.False(Again(null).HashKept);
        Assert.False(Again(known with { SourcePath = "T" }).HashKept);
        Assert.False(Again(known, new SubmitStudy { StudyId = "S", Images = [new("S/P1/L2/f1.jpg", "P1", "L2")] }).HashKept);

        // Other bytes of the same size, its modification time set back (cp -a, rsync -t): the change time tells.
        var time = File.GetLastWriteTimeUtc(path);
        File.WriteAllBytes(path, [0xFF, 0xD8, 9, 9, 9]);
        File.SetLastWriteTimeUtc(path, time);
        var replaced = Again(known);
        Assert.False(replaced.HashKept);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData([0xFF, 0xD8, 9, 9, 9]), replaced.Sha256);
        Assert.NotEqual(image.FileStamp, replaced.FileStamp);
    }

    private sealed class Later(TimeSpan ahead) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.UtcNow + ahead;
    }

    [Fact]
    public void A_listed_image_written_with_backslashes_is_named_by_its_file_alone()
    {
        // The field took the whole path on Linux ("Doe Jane\L2\f1"): a patient's folder name in a field's label.
        Directory.CreateDirectory(Path.Combine(_share.FullName, "S", "P1", "L2"));
        File.WriteAllBytes(Path.Combine(_share.FullName, "S", "P1", "L2", "f1.jpg"), [0xFF, 0xD8]);
        var intake = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName });
        var image = Assert.Single(intake.Read(new SubmitStudy { StudyId = "S", Images = [new("S\\P1\\L2\\f1.jpg", "P1", "L2")] }).Images);
        Assert.Equal(("f1", "S/P1/L2/f1.jpg"), (image.Field, image.RelativePath));
    }

    [Fact]
    public void A_registration_stops_between_files_once_its_worker_stops()
    {
        for (int i = 0; i < 3; i++)
        {
            Directory.CreateDirectory(Path.Combine(_share.FullName, "S", "P1", "L2"));
            File.WriteAllBytes(Path.Combine(_share.FullName, "S", "P1", "L2", $"f{i}.jpg"), [0xFF, 0xD8]);
        }
        File.WriteAllText(Path.Combine(_share.FullName, "S", "READY"), "");
        var intake = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName });
        Assert.Equal(3, intake.Read(new SubmitStudy { StudyId = "S", FolderPath = "S" }).Images.Count);
        Assert.Throws<OperationCanceledException>(() => intake.Read(new SubmitStudy { StudyId = "S", FolderPath = "S" }, new CancellationToken(canceled: true)));
    }

    [Theory]
    [InlineData("grown")]
    [InlineData("added")]
    [InlineData("gone")]
    public void A_folder_that_changes_while_it_is_read_is_not_registered_but_read_again(string change)
    {
        // A copy still running: the files hashed are not the folder the copy leaves.
        var field = Path.Combine(_share.FullName, "S", "P1", "L2");
        Directory.CreateDirectory(field);
        File.WriteAllBytes(Path.Combine(field, "f1.jpg"), [0xFF, 0xD8]);
        File.WriteAllText(Path.Combine(_share.FullName, "S", "READY"), "");
        var message = new SubmitStudy { StudyId = "S", FolderPath = "S" };
        Assert.Single(new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }).ReadUnchanged(message).Images);

        var intake = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName })
        {
            AfterRead = () =>
            {
                if (change == "grown") File.AppendAllText(Path.Combine(field, "f1.jpg"), "more");
                else if (change == "added") File.WriteAllBytes(Path.Combine(field, "f2.jpg"), [0xFF, 0xD8]);
                else Directory.Delete(Path.Combine(_share.FullName, "S"), recursive: true);   // the second walk fails
            },
        };
        Assert.Throws<StudyFolderChangingException>(() => intake.ReadUnchanged(message));
        if (change != "gone") Assert.Equal(change == "added" ? 2 : 1, intake.Read(message).Images.Count);
    }

    [Fact]
    public async Task A_registration_read_moves_its_progress_on_and_one_that_hangs_is_given_up()
    {
        // Read on a thread of its own under a stall guard: each folder listed and each file read is a step, so a slow
        // share that answers is read to its end, and one that hangs (a mount gone after the availability check) is left.
        var field = Path.Combine(_share.FullName, "S", "P1", "L2");
        Directory.CreateDirectory(field);
        for (int i = 1; i <= 3; i++) File.WriteAllBytes(Path.Combine(field, $"f{i}.jpg"), [0xFF, 0xD8]);
        var message = new SubmitStudy { StudyId = "S", FolderPath = "S" };
        var progress = new NfcPipeline.Intake.Share.ShareScanProgress();
        Assert.Equal(3, new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }).ReadUnchanged(message, default, progress).Images.Count);
        Assert.True(progress.Steps >= 3 + 3 * 3, $"{progress.Steps} steps");   // 3 files, 3 folders in each of three walks
        // A large file on a slow share: each 4 MB block hashed is a step too.
        var before = progress.Steps;
        File.WriteAllBytes(Path.Combine(field, "f1.jpg"), new byte[9 << 20]);
        new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }).ReadUnchanged(message, default, progress);
        Assert.True(progress.Steps - before >= 3 + 3 + 3 * 3, $"{progress.Steps - before} steps");   // 3 blocks of the large file besides

        using var hung = new ManualResetEventSlim();
        var hanging = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }) { BeforeRead = () => hung.Wait() };
        await Assert.ThrowsAsync<TimeoutException>(() => NfcPipeline.Intake.Share.StallGuard.RunAsync(
            (p, token) => hanging.ReadUnchanged(message, token, p), TimeSpan.FromMilliseconds(300), TimeProvider.System, default));
        hung.Set();
    }

    [Fact]
    public void A_folder_neither_fingerprint_could_walk_is_not_registered_though_its_read_succeeded()
    {
        // Away for both walks (a mount blip), there for the read: the two failed walks compared equal and it passed.
        var study = Path.Combine(_share.FullName, "S");
        Directory.CreateDirectory(Path.Combine(study, "P1", "L2"));
        File.WriteAllBytes(Path.Combine(study, "P1", "L2", "f1.jpg"), [0xFF, 0xD8]);
        File.WriteAllText(Path.Combine(study, "READY"), "");
        Directory.Move(study, study + ".away");
        var intake = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName })
        {
            BeforeRead = () => Directory.Move(study + ".away", study),
            AfterRead = () => Directory.Move(study, study + ".away"),
        };
        Assert.Throws<StudyFolderChangingException>(() => intake.ReadUnchanged(new SubmitStudy { StudyId = "S", FolderPath = "S" }));
    }

    [Fact]
    public void A_file_past_the_decoders_limit_is_registered_unhashed_as_a_stand_in()
    {
        // A 1 TB sparse file was hashed whole, holding the registration for hours; it could never be analysed anyway.
        var field = Path.Combine(_share.FullName, "S", "P1", "L2");
        Directory.CreateDirectory(field);
        File.WriteAllBytes(Path.Combine(field, "f1.jpg"), [0xFF, 0xD8]);
        using (var huge = File.Create(Path.Combine(field, "f2.jpg"))) huge.SetLength(new NfcPipeline.Imaging.ImageDecodeOptions().MaxFileBytes + 1);   // sparse
        File.WriteAllText(Path.Combine(_share.FullName, "S", "READY"), "");

        var images = new StudyIntake(new WorkerOptions { ShareRoot = _share.FullName }).Read(new SubmitStudy { StudyId = "S", FolderPath = "S" }).Images;
        var stand = Assert.Single(images, i => i.RelativePath.EndsWith("f2.jpg", StringComparison.Ordinal));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData("nfc:unreadable:P1/L2/f2.jpg"u8), stand.Sha256);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(new byte[] { 0xFF, 0xD8 }), Assert.Single(images, i => i.RelativePath.EndsWith("f1.jpg", StringComparison.Ordinal)).Sha256);
    }

    [Fact]
    public void A_share_root_link_pointed_elsewhere_is_followed_by_the_next_registration()
    {
        // The root's real path was taken once: after the link moved, every file "led outside the share" and was
        // registered under a stand-in hash (and failed at analysis) until the worker restarted.
        foreach (var (copy, content) in new[] { ("a", "first"), ("b", "second") })
        {
            Directory.CreateDirectory(Path.Combine(_share.FullName, copy, "S", "P1", "L2"));
            File.WriteAllText(Path.Combine(_share.FullName, copy, "S", "P1", "L2", "f1.jpg"), content);
            File.WriteAllText(Path.Combine(_share.FullName, copy, "S", "READY"), "");
        }
        var root = Path.Combine(_share.FullName, "current");
        Directory.CreateSymbolicLink(root, Path.Combine(_share.FullName, "a"));
        var intake = new StudyIntake(new WorkerOptions { ShareRoot = root });
        Assert.Equal(System.Security.Cryptography.SHA256.HashData("first"u8), intake.Read(new SubmitStudy { StudyId = "S", FolderPath = "S" }).Images[0].Sha256);

        Directory.Delete(root);
        Directory.CreateSymbolicLink(root, Path.Combine(_share.FullName, "b"));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData("second"u8), intake.Read(new SubmitStudy { StudyId = "S", FolderPath = "S" }).Images[0].Sha256);
    }
}
