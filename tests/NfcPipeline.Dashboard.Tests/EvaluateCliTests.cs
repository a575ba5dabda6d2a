using System.Text.Json;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>`nfc evaluate` as a process against the sample study's truth: no broker, no database, the reference model.</summary>
public sealed class EvaluateCliTests : IDisposable
{
    private static readonly string DemoStudy = Path.Combine(TestServices.RepoRoot, "samples", "demo-study");
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("nfc-cli-");

    public void Dispose() => _folder.Delete(recursive: true);

    /// <summary>
    /// The sample study against its ground truth, as models/README.md reports the held-out study: the pipeline's own
    /// decoder and measurements reach the detection and class targets, and the loops' diameters are a subset of
    /// the matched pairs'. Measured 2026-12-02: F1 0.944, class accuracy 0.903, apical MAE 2.15 µm (loops 1.48), density
    /// MAE 0.495 /mm; the pipeline grades the 19 fields as the truth does (3 ungradable), density MAE over its 16 gradable
    /// ones 0.356 /mm.
    /// </summary>
    [Fact]
    public async Task Evaluate_scores_the_reference_model_on_the_sample_study_against_its_truth()
    {
        var run = await NfcProcess.RunAsync(TimeSpan.FromMinutes(4), "evaluate", "--images", DemoStudy, "--truth", DemoStudy + ".truth.json",
            "--model", Path.Combine(TestServices.RepoRoot, "models", "nfc-reference.onnx"), "--json");

        Assert.True(run.Code == 0, run.Err + run.Out);
        var report = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal(19, report.GetProperty("image_count").GetInt32());
        Assert.InRange(report.GetProperty("detection").GetProperty("f1").GetDouble(), 0.90, 1);
        Assert.InRange(report.GetProperty("classification").GetProperty("accuracy").GetDouble(), 0.85, 1);
        Assert.InRange(report.GetProperty("density").GetProperty("mae").GetDouble(), 0, 1.0);
        // The pipeline's own grading against the truth's 3 ungradable fields, and the density over what it grades gradable.
        var grading = report.GetProperty("grading");
        var disagreements = grading.GetProperty("disagreements").EnumerateArray().ToList();
        Assert.Equal(19, grading.GetProperty("image_count").GetInt32());
        Assert.Equal(19, grading.GetProperty("both_gradable").GetInt32() + grading.GetProperty("both_ungradable").GetInt32() + disagreements.Count);
        Assert.InRange(grading.GetProperty("agreement").GetDouble(), 0.9, 1);
        int pipelineGradable = grading.GetProperty("both_gradable").GetInt32() + disagreements.Count(d => d.GetProperty("pipeline_gradable").GetBoolean());
        var graded = report.GetProperty("pipeline_gradable_density");
        Assert.Equal(pipelineGradable, graded.GetProperty("pair_count").GetInt32());
        Assert.InRange(graded.GetProperty("mae").GetDouble(), 0, 0.5);
        var all = report.GetProperty("diameters").EnumerateArray().ToDictionary(d => d.GetProperty("diameter").GetString()!);
        var loops = report.GetProperty("loop_diameters").EnumerateArray().ToDictionary(d => d.GetProperty("diameter").GetString()!);
        var distal = report.GetProperty("distal_row_diameters").EnumerateArray().ToDictionary(d => d.GetProperty("diameter").GetString()!);
        Assert.Equal(["apical", "arterial", "venous"], all.Keys);
        foreach (var name in all.Keys)
        {
            Assert.InRange(all[name].GetProperty("mae_um").GetDouble(), 0, 3);
            Assert.InRange(loops[name].GetProperty("pair_count").GetInt32(), 1, all[name].GetProperty("pair_count").GetInt32() - 1);
            Assert.InRange(distal[name].GetProperty("pair_count").GetInt32(), 1, all[name].GetProperty("pair_count").GetInt32() - 1);
            Assert.InRange(distal[name].GetProperty("mae_um").GetDouble(), 0, 3);
        }
        // The truth's keypoints outside the frame (visibility 1): their diameters are left out, and the report says how many.
        var warning = Assert.Single(report.GetProperty("warnings").EnumerateArray()).GetString()!;
        Assert.Matches("^[0-9]+ truth diameters are left out: a keypoint of each is labelled but not visible", warning);

        var missing = await NfcProcess.RunAsync("evaluate", "--images", DemoStudy, "--truth", Path.Combine(_folder.FullName, "none.json"));
        Assert.Equal(2, missing.Code);
        Assert.Contains("not found", missing.Err);
    }

    [Fact]
    public async Task Evaluate_keeps_the_first_of_two_truth_entries_naming_one_image()
    {
        // The demo truth cut to one image, listed a second time under another case of its name (one file to the
        // case-insensitive image key): the first is kept with its annotations and the second left out, with a warning
        // (both kept, they claimed one analysis and neither was scored). The first names its file with backslashes,
        // as a truth written on Windows does.
        var truth = JsonDocument.Parse(File.ReadAllText(DemoStudy + ".truth.json")).RootElement;
        var first = truth.GetProperty("images")[0];
        var twice = new Dictionary<string, object?>(JsonSerializer.Deserialize<Dictionary<string, object?>>(first.GetRawText())!)
        {
            ["id"] = 999_999, ["file_name"] = first.GetProperty("file_name").GetString()!.ToUpperInvariant().Replace(".JPG", ".jpg"),
        };
        var annotations = truth.GetProperty("annotations").EnumerateArray().Where(a => a.GetProperty("image_id").GetInt64() == first.GetProperty("id").GetInt64()).ToArray();
        var cut = new Dictionary<string, object?>
        {
            ["images"] = new object[] { Backslashed(first), twice },
            ["annotations"] = annotations,
            ["categories"] = truth.GetProperty("categories"),
        };
        var path = Path.Combine(_folder.FullName, "twice.json");
        File.WriteAllText(path, JsonSerializer.Serialize(cut));
        var images = Path.Combine(_folder.FullName, "images");
        var source = Path.Combine(DemoStudy, first.GetProperty("file_name").GetString()!);
        foreach (var name in new[] { first.GetProperty("file_name").GetString()!, (string)twice["file_name"]! })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(images, name))!);
            File.Copy(source, Path.Combine(images, name), overwrite: true);
        }

        var run = await NfcProcess.RunAsync(TimeSpan.FromMinutes(3), "evaluate", "--images", images, "--truth", path,
            "--model", Path.Combine(TestServices.RepoRoot, "models", "nfc-reference.onnx"), "--json");
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.DoesNotContain("Unhandled", run.Err);
        var report = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal(1, report.GetProperty("image_count").GetInt32());
        var detection = report.GetProperty("detection");
        Assert.Equal(annotations.Length, detection.GetProperty("truth_count").GetInt32());
        Assert.InRange(detection.GetProperty("recall").GetDouble(), 0.5, 1);
        Assert.Contains(report.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.StartsWith("Image 999999 (", StringComparison.Ordinal)
            && w.GetString()!.Contains("it is left out, with its 0 annotation(s)", StringComparison.Ordinal));

        static Dictionary<string, object?> Backslashed(JsonElement image)
        {
            var copy = JsonSerializer.Deserialize<Dictionary<string, object?>>(image.GetRawText())!;
            copy["file_name"] = image.GetProperty("file_name").GetString()!.Replace('/', '\\');
            return copy;
        }
    }

    [Fact]
    public async Task Evaluate_against_density_csv_truth_says_when_it_assumes_a_calibration()
    {
        var truth = JsonDocument.Parse(File.ReadAllText(DemoStudy + ".truth.json")).RootElement;
        var name = truth.GetProperty("images")[0].GetProperty("file_name").GetString()!;
        var csv = Path.Combine(_folder.FullName, "density.csv");
        File.WriteAllText(csv, $"image,capillaries_per_mm\n{name},8.5\n");
        var model = Path.Combine(TestServices.RepoRoot, "models", "nfc-reference.onnx");

        var assumed = await NfcProcess.RunAsync(TimeSpan.FromMinutes(3), "evaluate", "--images", DemoStudy, "--truth", csv, "--model", model, "--json");
        Assert.True(assumed.Code == 0, assumed.Err + assumed.Out);
        Assert.Contains("nfc evaluate: 1 of 1 image(s) have no calibration (--um-per-px, or um_per_px in the truth); assuming 2 µm/px", assumed.Err);

        var given = await NfcProcess.RunAsync(TimeSpan.FromMinutes(3), "evaluate", "--images", DemoStudy, "--truth", csv, "--model", model, "--json",
            "--um-per-px", "2.0");
        Assert.True(given.Code == 0, given.Err + given.Out);
        Assert.DoesNotContain("no calibration", given.Err);
    }
}
