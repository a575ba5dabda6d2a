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

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("""{"um_per_px": -2}""", "positive number")]
    [InlineData("""{"um_per_px": "2"}""", "positive number")]
    [InlineData("""{"patients": ["a"]}""", "must map folder names")]
    public void Bad_manifests_say_what_is_wrong(string json, string expected) =>
        Assert.Contains(expected, Assert.Throws<StudyLayoutException>(() => StudyManifest.Parse(json)).Message);
}
