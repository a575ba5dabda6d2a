using System.Text.Json;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>`nfc analyze`'s scale for part of a study: the study's study.json above what it is given.</summary>
public sealed partial class OfflineCliTests
{
    [Fact]
    public async Task Analyze_of_one_image_or_a_patients_folder_takes_the_scale_of_the_study_json_above_it()
    {
        var study = Path.Combine(_folder.FullName, "scaled");
        Directory.CreateDirectory(Path.Combine(study, "P01", "L2"));
        var field = Path.Combine(study, "P01", "L2", "field1.jpg");
        File.Copy(Path.Combine(DemoStudy, "P001", "L2", "field1.jpg"), field);
        File.WriteAllText(Path.Combine(study, "study.json"), """{"study_id": "S1", "um_per_px": 1.25}""");

        foreach (var target in new[] { field, Path.Combine(study, "P01") })
        {
            var run = await NfcProcess.RunAsync("analyze", target, "--json");
            Assert.True(run.Code == 0, run.Err + run.Out);
            Assert.Contains($"nfc analyze: calibration 1.25 µm/px from {Path.Combine(study, "study.json")}, the manifest of the study this path lies in.", run.Err);
            Assert.DoesNotContain("no calibration given", run.Err);
            var image = run.Out.Split('\n').Select(l => JsonDocument.Parse(l).RootElement).First(e => e.GetProperty("type").GetString() == "image");
            Assert.Equal(1.25, image.GetProperty("um_per_px").GetDouble());
        }

        // --um-per-px goes first; a manifest above that cannot be read is refused, as the study's own would be.
        var given = await NfcProcess.RunAsync("analyze", field, "--um-per-px", "2");
        Assert.Equal(0, given.Code);
        Assert.DoesNotContain("calibration 1.25", given.Err);
        File.WriteAllText(Path.Combine(study, "study.json"), "{not json");
        var broken = await NfcProcess.RunAsync("analyze", field);
        Assert.Equal(2, broken.Code);
        Assert.StartsWith("nfc analyze: the study.json above ", broken.Err);
        // A link whose target is gone is refused by name, as the study's own would be, not passed over.
        File.Delete(Path.Combine(study, "study.json"));
        File.CreateSymbolicLink(Path.Combine(study, "study.json"), Path.Combine(study, "gone.json"));
        var dangling = await NfcProcess.RunAsync("analyze", field);
        Assert.Equal(2, dangling.Code);
        Assert.StartsWith("nfc analyze: the study.json above ", dangling.Err);
    }
}
