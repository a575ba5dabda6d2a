namespace NfcPipeline.Intake.Tests;

public class ManifestAndFingerTests
{
    [Theory]
    [InlineData("L2", "L2")]
    [InlineData("l-2", "L2")]
    [InlineData("Left_3", "L3")]
    [InlineData("left IV", "L4")]
    [InlineData("RII", "R2")]
    [InlineData("right-v", "R5")]
    [InlineData("5R", "R5")]
    [InlineData("R1", "R1")]
    public void Finger_spellings_normalise(string folder, string expected) => Assert.Equal(expected, FingerNames.Normalise(folder));

    [Theory]
    [InlineData("L6")]
    [InlineData("middle")]
    [InlineData("LR2")]
    [InlineData("")]
    public void Unknown_finger_spellings_are_not_guessed(string folder) => Assert.Null(FingerNames.Normalise(folder));

    [Fact]
    public void Manifest_reads_calibration_device_and_renames()
    {
        var manifest = StudyManifest.Parse("""
            { "study_id": "trial-7", "um_per_px": 1.8, "device": "VideoCap 200x",
              "patients": { "anon_01": "P-001" }, "fingers": { "dig2left": "L2" }, "site": "kept" }
            """);
        Assert.Equal("trial-7", manifest.StudyId);
        Assert.Equal(1.8, manifest.MicrometresPerPixel);
        Assert.Equal("VideoCap 200x", manifest.Device);
        Assert.Equal("P-001", manifest.Patients["anon_01"]);
        Assert.Equal("L2", manifest.Fingers["dig2left"]);
        Assert.Contains("\"site\": \"kept\"", manifest.Raw);
    }

    [Fact]
    public void The_manifest_s_finger_names_are_written_as_intake_writes_folder_names()
    {
        // "l2" beside a folder named L2 was a second finger: enough for the fast-track's two fingers from one.
        var manifest = StudyManifest.Parse("""{ "fingers": { "zeige_li": "l2", "ring rechts": "right-IV", "mittel": " 3L ", "zeige": "index" } }""");
        Assert.Equal(["L2", "L3", "R4", "index"], manifest.Fingers.Values.Order(StringComparer.Ordinal));
        Assert.Equal("L2", manifest.FingerFor("zeige_li"));
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("""{"um_per_px": -2}""", "positive number")]
    [InlineData("""{"um_per_px": "2"}""", "positive number")]
    [InlineData("""{"patients": ["a"]}""", "must map folder names")]
    [InlineData("""{"device": "cap\u0000"}""", "NUL character")]
    [InlineData("""{"patients": {"Doe-Jane-1961": ""}}""", "entry 1 of 'patients'")]
    [InlineData("""{"patients": {"anon_01": "P1", "anon_02": "P1"}}""", "entries 1 and 2 of 'patients' map to the same patient code")]
    [InlineData("""{"patients": {"Doe-Jane": "P01", "Roe-Rick": "p01"}}""", "entries 1 and 2 of 'patients' map to the same patient code (written twice, or apart only in case or Unicode form)")]
    [InlineData("""{"patients": {"Doe-Jane": "P01/L2"}}""", "entry 1 of 'patients': the code may not hold '/' or '\\'")]
    [InlineData("""{"patients": {"Doe-Jane": "P01 "}}""", "entry 1 of 'patients': the code may not be empty or begin or end with a space")]
    [InlineData("""{"fingers": {"zwei": "L\\2"}}""", "entry 1 of 'fingers': the name may not hold '/' or '\\'")]
    [InlineData("""{"patients": {"anon_01": "P\u001b[2J1"}}""", "entry 1 of 'patients' maps to a name with control characters")]
    [InlineData("""{"fingers": {"zwei": "L2\u202E"}}""", "entry 1 of 'fingers' maps to a name with control characters")]
    [InlineData("""{"study_id": "A", "notes": "\ud83d"}""", "half of an escaped surrogate pair")]
    [InlineData("""{"study_id": "\ud83d"}""", "half of an escaped surrogate pair")]
    [InlineData("""{"study_id": 42}""", "study_id must be a string, got 42")]
    [InlineData("""{"study_id": {"name": "Doe-Jane"}}""", "study_id must be a string, got an object")]
    [InlineData("""{"um_per_px": "2.0 Doe-Jane"}""", "um_per_px must be a positive number, got a string")]
    [InlineData("""{"um_per_px": 5e-324}""", "um_per_px must be 0.01 to 100 µm per pixel (a capillaroscope gives about 0.5-5), got 5e-324")]
    [InlineData("""{"um_per_px": 1e308}""", "um_per_px must be 0.01 to 100 µm per pixel")]
    [InlineData("""{"patients": {"Doe-Jane-1961": "P1", "Doe-Jane-1961": "P2"}}""", "entries 1 and 2 of 'patients' name the same folder")]
    [InlineData("""{"fingers": {"m\u00e9dius": "L3", "me\u0301dius": "L3"}}""", "entries 1 and 2 of 'fingers' name the same folder")]
    public void Bad_manifests_say_what_is_wrong(string json, string expected)
    {
        var message = Assert.Throws<StudyLayoutException>(() => StudyManifest.Parse(json)).Message;
        Assert.Contains(expected, message);
        Assert.DoesNotContain("Doe-Jane", message);   // refusals are logged: no patient folder names in them
    }

    [Fact]
    public void Outsized_manifest_values_are_refused_and_shown_cut_short()
    {
        // A key of 2 x 100,000 combining marks in reverse canonical order took the normalisation minutes, every scan:
        // no folder has such a name, so it is refused before it is normalised.
        string marks = new string('\u0301', 100_000) + new string('\u0316', 100_000);
        var refused = Assert.Throws<StudyLayoutException>(() => StudyManifest.Parse("{\"patients\": {\"" + marks + "\": \"P1\"}}"));
        Assert.Contains("entry 1 of 'patients' names a folder of more than 255 characters", refused.Message);

        string digits = "1" + new string('0', 5000);
        var huge = Assert.Throws<StudyLayoutException>(() => StudyManifest.Parse("{\"um_per_px\": " + digits + "}")).Message;
        Assert.Contains("got 10000000000000000000000000000000…", huge);
        Assert.True(huge.Length < 300, huge);
    }

    [Fact]
    public void Comments_and_trailing_commas_are_read_and_stored_as_plain_json()
    {
        var manifest = StudyManifest.Parse("""
            { "study_id": "S", // the site's own id
              "um_per_px": 2.0, "site": "Zürich", }
            """);
        Assert.Equal("S", manifest.StudyId);
        // Strict JSON now (the database's jsonb takes nothing else), with the user's fields and characters kept.
        using var strict = System.Text.Json.JsonDocument.Parse(manifest.Raw);
        Assert.Equal("Zürich", strict.RootElement.GetProperty("site").GetString());
        Assert.Contains("Zürich", manifest.Raw);
        Assert.DoesNotContain("//", manifest.Raw);
    }
}
