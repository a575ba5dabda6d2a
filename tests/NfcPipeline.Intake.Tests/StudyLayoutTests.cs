namespace NfcPipeline.Intake.Tests;

public sealed partial class StudyLayoutTests : IDisposable
{
    private readonly DirectoryInfo _share = Directory.CreateTempSubdirectory("nfc-share-");
    private readonly DirectoryInfo _outside = Directory.CreateTempSubdirectory("nfc-outside-");

    public void Dispose()
    {
        _share.Delete(recursive: true);
        _outside.Delete(recursive: true);
    }

    private string Touch(string relative, string content = "x")
    {
        var path = Path.Combine(_share.FullName, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void A_patients_map_must_name_every_patient_folder_whatever_its_unicode_form()
    {
        // The key typed composed, the folder written decomposed ("u" + combining diaeresis), as macOS writes it.
        Touch("s1/study.json", """{"patients": {"M\u00fcller Anna": "P-001"}, "fingers": {"m\u00e9dius gauche": "L3"}}""");
        Touch("s1/Mu\u0308ller Anna/me\u0301dius gauche/f1.jpg");
        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName);
        Assert.Equal("P-001|L3", $"{inventory.Images.Single().Patient}|{inventory.Images.Single().Finger}");
        Assert.Null(StudyLayout.RegistrationProblem(inventory));

        // Folders the map does not name would be stored under their own names: the study is refused, naming none.
        Touch("s1/Doe Jane/L2/f1.jpg");
        var problem = StudyLayout.RegistrationProblem(StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName));
        Assert.StartsWith("1 patient folder(s) are not in study.json's patients map", problem);
        Assert.DoesNotContain("Doe", problem);
    }

    [Fact]
    public void Under_a_patients_map_a_skipped_entry_in_a_folder_it_does_not_name_is_shown_without_that_name()
    {
        // A folder of no images (a consent form) is no patient folder, so the study is not refused: `nfc analyze`
        // listed "Doe Jane/consent.pdf  SKIPPED", the name the map is there to keep out.
        Touch("s1/study.json", """{"patients": {"Smith John": "P-001"}}""");
        Touch("s1/Smith John/L2/f1.jpg");
        Touch("s1/Smith John/L2/notes.txt");
        Touch("s1/Doe Jane/consent.pdf");
        Touch("s1/readme.txt");
        Touch("s1/Roe Rita.jpg/f1.jpg");   // a root-level folder named like an image: skipped whole, by its own name
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s1", "Poe\u2028Paul"), Path.Combine(_share.FullName, "gone"));   // a refused name, broken
        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName);

        Assert.Null(StudyLayout.RegistrationProblem(inventory));
        Assert.Equal(["?", "?", "?/consent.pdf", "P-001/L2/notes.txt", "readme.txt"], inventory.Skipped.Select(inventory.Shown).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Two_patient_folders_differing_only_in_unicode_form_are_refused_with_or_without_a_patients_map(bool map)
    {
        if (map) Touch("s1/study.json", """{"patients": {"M\u00fcller Anna": "P-001"}}""");
        Touch("s1/M\u00fcller Anna/L2/f1.jpg");
        Touch("s1/Mu\u0308ller Anna/L3/f1.jpg");   // the same name copied from a Mac: one patient, or two that look alike

        var problem = StudyLayout.RegistrationProblem(StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName));

        Assert.StartsWith("1 pair(s) of patient folders have names that differ only in their Unicode form", problem);
        Assert.DoesNotContain("ller", problem);
    }

    [Theory]
    [InlineData("P01", "p01")]
    [InlineData("P01", "P01 ")]
    public void Two_patient_folders_differing_only_in_case_or_end_spaces_are_refused(string first, string second)
    {
        // Two patients under codes that look alike (or one patient's fields split in two), each graded on part of them.
        Touch($"s1/{first}/L2/f1.jpg");
        Touch($"s1/{second}/L3/f1.jpg");

        var problem = StudyLayout.RegistrationProblem(StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName));

        Assert.StartsWith("1 pair(s) of patient folders have names that differ only in their Unicode form (one written on a Mac, say), letter case", problem);
    }

    [Fact]
    public void A_patient_named_unassigned_beside_images_at_the_study_root_is_refused()
    {
        // The root's images are registered under the patient "unassigned": they were graded with that patient's fields.
        Touch("s1/Unassigned/L2/f1.jpg");
        Touch("s1/loose.jpg");

        var problem = StudyLayout.RegistrationProblem(StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName));

        Assert.StartsWith("A patient is named 'unassigned'", problem);
        File.Delete(Path.Combine(_share.FullName, "s1", "loose.jpg"));
        Assert.Null(StudyLayout.RegistrationProblem(StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName)));
    }

    [Fact]
    public void A_study_folder_is_gone_only_when_the_share_answers_without_it()
    {
        Assert.False(SharePaths.FolderGone(_share.FullName, "s1"));   // an empty share: a mount away, not a rename
        Touch("s2/P001/L2/f1.jpg");
        Assert.True(SharePaths.FolderGone(_share.FullName, "s1"));
        Assert.False(SharePaths.FolderGone(_share.FullName, "s2"));
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s1"), "missing");   // something still there keeps the study
        Assert.False(SharePaths.FolderGone(_share.FullName, "s1"));
        Assert.False(SharePaths.FolderGone(Path.Combine(_share.FullName, "nowhere"), "s1"));
        Assert.True(SharePaths.FolderGone(_share.FullName, "s2/P009"));
        Assert.False(SharePaths.FolderGone(_share.FullName, "s3/P001"));   // a parent that does not list is no proof
    }

    [Fact]
    public void A_submitted_path_that_leads_to_the_share_root_itself_is_refused()
    {
        Touch("s1/P001/L2/f1.jpg");
        Touch("s2/P001/L2/f1.jpg");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "everything"), ".");

        var (inventory, problem) = StudyLayout.ReadForSubmission(_share.FullName, "everything");

        Assert.Null(inventory);
        Assert.Equal(SharePaths.RootItselfReason, problem);
        Assert.Equal(SharePaths.RootItselfReason,
            Assert.Throws<StudyLayoutException>(() => StudyLayout.Discover(Path.Combine(_share.FullName, "everything"), _share.FullName)).Message);
    }

    [Fact]
    public void Patient_finger_field_layout_is_read_with_finger_names_normalised()
    {
        Touch("s1/study.json", """{"study_id":"S-1","um_per_px":2.5,"device":{"name":"cap"}}""");
        Touch("s1/P001/L2/field1.jpg");
        Touch("s1/P001/right-III/f2.png");
        Touch("s1/P002/2L/a.tif");
        Touch("s1/P002/thumbish/b.jpg");
        Touch("s1/P002/loose.jpg");

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s1"), _share.FullName);

        Assert.Equal("S-1", inventory.StudyId);
        Assert.Equal(2.5, inventory.Manifest!.MicrometresPerPixel);
        Assert.Equal("""{"name":"cap"}""", inventory.Manifest.Device);
        Assert.Equal(
            ["P001/L2/field1.jpg|P001|L2|field1", "P001/right-III/f2.png|P001|R3|f2", "P002/2L/a.tif|P002|L2|a",
             "P002/loose.jpg|P002||loose", "P002/thumbish/b.jpg|P002|thumbish|b"],
            inventory.Images.Select(i => $"{i.RelativePath}|{i.Patient}|{i.Finger}|{i.Field}"));
        Assert.Empty(inventory.Skipped);
    }

    [Fact]
    public void Files_not_named_as_images_are_skipped_with_a_reason_not_analysed_as_fields()
    {
        Touch("s/P1/L2/f1.JPG");
        Touch("s/P1/L2/f2.tiff");
        Touch("s/protocol.pdf");
        Touch("s/P1/notes.txt");
        Touch("s/P1/L2/Thumbs.db");

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s"), _share.FullName);

        Assert.Equal(["P1/L2/f1.JPG", "P1/L2/f2.tiff"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal(["P1/notes.txt", "protocol.pdf"], inventory.Skipped.Select(e => e.RelativePath));   // Thumbs.db: ignored outright
        Assert.All(inventory.Skipped, e => Assert.Contains("not named as an image", e.Reason));
        Assert.DoesNotContain(inventory.Skipped, e => e.Unreadable);
    }

    [Fact]
    public void Hidden_temporary_and_marker_files_are_ignored_and_nothing_is_changed()
    {
        var keep = Touch("s/P1/L3/f.jpg", "data");
        Touch("s/P1/L3/.f.jpg.swp"); Touch("s/P1/L3/~lock"); Touch("s/P1/L3/upload.part"); Touch("s/READY"); Touch("s/P1/.DS_Store");
        var before = Directory.EnumerateFiles(_share.FullName, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s"), _share.FullName);

        Assert.Equal(["P1/L3/f.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal("s", inventory.StudyId);
        Assert.Equal("data", File.ReadAllText(keep));
        var after = Directory.EnumerateFiles(_share.FullName, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        Assert.Equal(before, after);
    }

    [Fact]
    public void Links_that_leave_the_share_are_skipped_with_a_reason_and_links_inside_are_followed()
    {
        Touch("s/P1/L2/own.jpg");
        File.WriteAllText(Path.Combine(_outside.FullName, "secret.jpg"), "x");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s/P1/L2/escape.jpg"), Path.Combine(_outside.FullName, "secret.jpg"));
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "s/P2"), _outside.FullName);
        Touch("other/P9/L4/shared.jpg");
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "s/P3"), Path.Combine(_share.FullName, "other/P9"));

        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s"), _share.FullName);

        Assert.Equal(["P1/L2/own.jpg", "P3/L4/shared.jpg"], inventory.Images.Select(i => i.RelativePath));
        Assert.Equal(["P1/L2/escape.jpg", "P2"], inventory.Skipped.Select(s => s.RelativePath));
        Assert.All(inventory.Skipped, s => Assert.Contains("outside the share", s.Reason));
    }

    [Fact]
    public void A_study_folder_that_is_itself_a_link_out_of_the_share_is_refused()
    {
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "linked"), _outside.FullName);
        var error = Assert.Throws<StudyLayoutException>(() => StudyLayout.Discover(Path.Combine(_share.FullName, "linked"), _share.FullName));
        Assert.Contains("outside the share", error.Message);
    }

    [Fact]
    public void Folders_deeper_than_patient_finger_are_skipped_with_a_reason()
    {
        Touch("s/P1/L2/extra/deep.jpg");
        var inventory = StudyLayout.Discover(Path.Combine(_share.FullName, "s"));
        Assert.Empty(inventory.Images);
        Assert.Equal("P1/L2/extra", inventory.Skipped.Single().RelativePath);
    }

    [Theory]
    [InlineData("../etc/passwd", "'..'")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("~staging/S1", "starts with '~', which a shell reads as a home folder")]
    [InlineData(" ", "The path is empty.")]
    [InlineData("s/./P1", "'..'")]
    [InlineData("missing/x.jpg", "does not exist")]
    // Refused before any message quotes them: "/x" and a line of its own were written to the fault's log as given.
    [InlineData("/x\n2026-12-06 INFO forged line", "control characters")]
    [InlineData("../x\u2028forged", "line separators")]
    [InlineData("s/\u202Egpj.exe", "bidirectional")]
    public void Paths_from_messages_cannot_escape_the_share(string relative, string expected)
    {
        Touch("s/P1/L2/f.jpg");
        var error = Assert.Throws<StudyLayoutException>(() => SharePaths.ResolveUnder(_share.FullName, relative));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Paths_from_messages_resolve_inside_the_share_and_refuse_escaping_links()
    {
        var inside = Touch("s/P1/L2/f.jpg");
        Assert.Equal(inside, SharePaths.ResolveUnder(_share.FullName, "s/P1/L2/f.jpg"));
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s/evil.jpg"), "/etc/hostname");
        Assert.Contains("outside the share", Assert.Throws<StudyLayoutException>(() => SharePaths.ResolveUnder(_share.FullName, "s/evil.jpg")).Message);
    }

    [Fact]
    public void A_chain_of_links_is_resolved_as_the_kernel_opens_it()
    {
        // esc leads out; P1 goes through esc and back up by '..', which the kernel applies to esc's target, not to
        // the text: the file opened is outside the share, although a folder of that name exists inside (a decoy).
        Directory.CreateDirectory(Path.Combine(_outside.FullName, "x"));
        Touch("patientZ/L2/img.jpg", "decoy");
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(_outside.FullName, "patientZ/L2")).FullName, "img.jpg"), "outside");
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "esc"), Path.Combine(_outside.FullName, "x"));
        Directory.CreateDirectory(Path.Combine(_share.FullName, "S"));
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "S/P1"), "../esc/../patientZ");

        Assert.Equal(Path.Combine(_outside.FullName, "patientZ/L2/img.jpg"),
            SharePaths.RealPath(Path.Combine(_share.FullName, "S/P1/L2/img.jpg")));
        Assert.Equal("outside", File.ReadAllText(Path.Combine(_share.FullName, "S/P1/L2/img.jpg")));
        var error = Assert.Throws<StudyLayoutException>(() => SharePaths.ResolveUnder(_share.FullName, "S/P1/L2/img.jpg"));
        Assert.Contains("outside the share", error.Message);
        Assert.Empty(StudyLayout.Discover(Path.Combine(_share.FullName, "S"), _share.FullName).Images);
    }

    [Fact]
    public void Links_through_links_inside_the_share_resolve_to_the_real_file_and_loops_are_refused()
    {
        var real = Touch("data/P1/L2/f.jpg");
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "alias"), "data");
        Directory.CreateDirectory(Path.Combine(_share.FullName, "s"));
        Directory.CreateSymbolicLink(Path.Combine(_share.FullName, "s/P1"), "../alias/P1");
        Assert.Equal(real, SharePaths.ResolveUnder(_share.FullName, "s/P1/L2/f.jpg"));

        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s/a.jpg"), "b.jpg");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s/b.jpg"), "a.jpg");
        Assert.Throws<IOException>(() => SharePaths.RealPath(Path.Combine(_share.FullName, "s/a.jpg")));
        Assert.Throws<StudyLayoutException>(() => SharePaths.ResolveUnder(_share.FullName, "s/a.jpg"));
    }

    [Theory]
    [InlineData("SSc-2026", null)]
    [InlineData("site A (2026)", null)]
    [InlineData("site/2026", "'/'")]
    [InlineData("site\\2026", "'/'")]
    [InlineData(" ", "printable")]
    [InlineData("a\tb", "printable")]
    [InlineData("S\u2028forged", "printable")]
    [InlineData("S\u202Edi", "printable")]
    [InlineData("..", "cannot be '.' or '..'")]
    [InlineData(".", "cannot be '.' or '..'")]
    [InlineData(" Doe, Jane", "starts or ends with a space")]
    [InlineData("S1 ", "starts or ends with a space")]
    public void Study_ids_are_single_printable_names(string id, string? problem)
    {
        if (problem is null) Assert.Null(StudyIds.Problem(id));
        else Assert.Contains(problem, StudyIds.Problem(id));
        // Not quoted: a manifest's refused study_id is logged and shown, and may hold a name.
        if (problem is not null && id.Trim().Length > 2) Assert.DoesNotContain(id.Trim(), StudyIds.Problem(id));
        Assert.NotNull(StudyIds.Problem(new string('x', StudyIds.MaxLength + 1)));
    }

    [Fact]
    public void A_manifest_study_id_with_a_slash_is_refused()
    {
        Touch("s/study.json", """{"study_id": "site/2026"}""");
        Touch("s/P1/L2/f.jpg");
        Assert.Contains("'/'", Assert.Throws<StudyLayoutException>(() => StudyLayout.Discover(Path.Combine(_share.FullName, "s"), _share.FullName)).Message);
    }

    [Fact]
    public void A_manifest_that_is_a_link_leading_outside_is_refused_unread()
    {
        File.WriteAllText(Path.Combine(_outside.FullName, "settings.json"), """{"um_per_px": 9.9}""");
        Touch("s/P1/L2/f.jpg");
        File.CreateSymbolicLink(Path.Combine(_share.FullName, "s/study.json"), Path.Combine(_outside.FullName, "settings.json"));
        var refused = Assert.Throws<StudyLayoutException>(() => StudyLayout.Discover(Path.Combine(_share.FullName, "s"), _share.FullName));
        Assert.Contains("leads outside the share", refused.Message);
        Assert.Contains("outside the share", StudyLayout.SubmissionProblem(_share.FullName, "s"));
    }

    [Fact]
    public async Task A_manifest_that_is_a_FIFO_or_too_large_is_refused_without_blocking()
    {
        Touch("s/P1/L2/f.jpg");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(_share.FullName, "s/study.json"))) await mkfifo.WaitForExitAsync();
        var discover = Task.Run(() => StudyLayout.SubmissionProblem(_share.FullName, "s"));
        Assert.Contains("empty, or not a regular file", await discover.WaitAsync(TimeSpan.FromSeconds(10)));

        Touch("t/P1/L2/f.jpg");
        Touch("t/study.json", "{\"pad\": \"" + new string('x', (int)StudyManifest.MaxBytes) + "\"}");
        Assert.Contains("at most", StudyLayout.SubmissionProblem(_share.FullName, "t"));
    }

    [Fact]
    public void A_manifest_with_a_byte_order_mark_is_read()
    {
        Touch("s/P1/L2/f.jpg");
        File.WriteAllBytes(Path.Combine(_share.FullName, "s/study.json"), [0xEF, 0xBB, 0xBF, .. "{\"study_id\": \"S-BOM\"}"u8]);
        Assert.Equal("S-BOM", StudyLayout.Discover(Path.Combine(_share.FullName, "s"), _share.FullName).StudyId);   // was "not valid JSON"
    }

    [Fact]
    public void A_study_that_would_register_nothing_is_a_submission_problem()
    {
        Touch("empty/study.json", "{}");
        Touch("file.jpg");
        Touch("ok/P1/L2/f.jpg");
        Assert.Contains("holds no images", StudyLayout.SubmissionProblem(_share.FullName, "empty"));
        Assert.Contains("is a file", StudyLayout.SubmissionProblem(_share.FullName, "file.jpg"));
        Assert.Contains("does not exist", StudyLayout.SubmissionProblem(_share.FullName, "missing"));
        Assert.Null(StudyLayout.SubmissionProblem(_share.FullName, "ok"));
    }
}
