using Dapper;
using NfcPipeline.Contracts;
using NfcPipeline.Core.Aggregation;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;
using NfcPipeline.Inference;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Intake;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;
using Npgsql;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// The bundled sample study through the whole pipeline with the reference model: every image analysed, and each
/// patient's stored result (aggregated from database rows by whichever worker finished last) equal to the offline
/// analysis of the same images in memory, as `nfc analyze` does it.
/// </summary>
public class SampleStudyTests
{
    private static readonly string Sample = Path.Combine(TestServices.RepoRoot, "samples", "demo-study");
    private static readonly string ReferenceModel = ModelFile("nfc-reference.onnx");

    [Fact]
    public async Task The_sample_study_completes_and_stored_patient_results_equal_the_offline_analysis()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        CopyDirectory(Sample, Path.Combine(env.Share.FullName, "demo-study"));
        await env.StartWorkerAsync(new Dictionary<string, string> { ["Inference__ModelPath"] = ReferenceModel, ["Inference__IntraOpThreads"] = "0" });

        await env.SubmitAsync(new SubmitStudy { StudyId = "demo-study", FolderPath = "demo-study" });
        Assert.Equal("completed", await env.WaitForStudyAsync("demo-study", TimeSpan.FromMinutes(10)));

        var offline = await OfflineReportsAsync(ReferenceModel);
        Assert.Equal((long)offline.Images, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        await using var connection = new NpgsqlConnection(env.Db.ConnectionString);
        var stored = (await connection.QueryAsync<(string Code, string Pattern, double? Density, int Loops, int Giants, int Gradable)>("""
            select p.code, pm.pattern, pm.density_mean, pm.capillary_count, pm.giant_count, pm.gradable_fields
            from patient_metrics pm join patients p on p.id = pm.patient_id order by p.code
            """)).ToList();
        Assert.Equal(offline.Reports.Keys.Order(), stored.Select(s => s.Code));
        foreach (var row in stored)
        {
            var report = offline.Reports[row.Code];
            Assert.Equal(PatientMetricsJson.Pattern(report.FastTrack), row.Pattern);
            Assert.Equal(report.Overall.LoopCount, row.Loops);
            Assert.Equal(report.Overall.GiantCount, row.Giants);
            Assert.Equal(report.Overall.GradableFieldCount, row.Gradable);
            Assert.Equal(report.Overall.DensityPerMm.Mean ?? -1, row.Density ?? -1, 9);
        }
        // Loops running out of the frame beyond their U (8 in this sample) are stored with the flag and no apex measures.
        Assert.InRange(offline.ApexCut, 1, 40);
        Assert.Equal((long)offline.ApexCut, await env.QueryScalarAsync<long>("select count(*) from capillaries where apex_cut_by_frame"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>(
            "select count(*) from capillaries where apex_cut_by_frame and (apical_um is not null or loop_height_um is not null or distal or giant)"));
        // Dilated and giant are unknown, not false, where the apex was not measured (they were stored false), and
        // known wherever it was but for an apex of the giant width with no limb measured (giant or dilated: not known
        // which); limb length is stored wherever the left and right lengths are (it needed limb roles).
        Assert.True(await env.QueryScalarAsync<long>("select count(*) from capillaries where dilated is null and giant is null") > 0);
        Assert.Equal(0L, await env.QueryScalarAsync<long>(
            "select count(*) from capillaries where category in ('normal', 'abnormal') and ((apical_um is null) > (dilated is null) or apical_um < 50 and dilated is null)"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>(
            "select count(*) from capillaries where category = 'normal' and ((apical_um is null) > (giant is null) or apical_um < 50 and giant is null)"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>(
            "select count(*) from capillaries where category = 'normal' and apical_um >= 50 and giant is null and (arterial_um is not null or venous_um is not null)"));
        // An abnormal loop is never giant (GiantRequiresNormalShape), whatever its apex.
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from capillaries where category = 'abnormal' and giant is distinct from false"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from capillaries where apex_cut_by_frame and dilated is not null"));
        Assert.True(await env.QueryScalarAsync<long>("select count(*) from capillaries where limb_length_um is not null and arterial_um is null") > 0,
            "no loop with limb lengths but unknown limb roles in the sample");
    }

    /// <summary>
    /// Against the sample's ground truth: every patient gets exactly its fast-track pattern and sub-pattern, from the
    /// float model and from its int8 quantization (ops/model/quantize.py) alike.
    /// </summary>
    [Theory]
    [InlineData("nfc-reference.onnx")]
    [InlineData("nfc-reference.int8.onnx")]
    public async Task The_reference_model_finds_the_sample_patients_fast_track_patterns(string modelFile)
    {
        var offline = await OfflineReportsAsync(ModelFile(modelFile));
        Assert.Equal(19, offline.Images);
        using var truth = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Sample + ".truth.json"));
        var expected = truth.RootElement.GetProperty("patients").EnumerateArray()
            .ToDictionary(p => p.GetProperty("patient").GetString()!, p => p.GetProperty("pattern").GetString()!);
        Assert.Equal(expected.Keys.Order(), offline.Reports.Keys.Order());
        Assert.Equal(["non_scleroderma", "scleroderma_active", "scleroderma_late"], expected.Values.Order());
        foreach (var (patient, pattern) in expected)
        {
            string found = PatientMetricsJson.Pattern(offline.Reports[patient].FastTrack);
            Assert.True(pattern == found, $"{patient}: truth {pattern}, found {found} ({offline.Reports[patient].FastTrack.Summary})");
        }
    }

    /// <summary>The int8 file is the float model's contract under its own name, so stored results keep them apart.</summary>
    [Fact]
    public void The_int8_reference_model_keeps_the_float_models_contract_under_its_own_name()
    {
        using var float32 = LoadedModel.Load(new InferenceOptions { ModelPath = ReferenceModel });
        using var int8 = LoadedModel.Load(new InferenceOptions { ModelPath = ModelFile("nfc-reference.int8.onnx") });
        var (f, q) = (float32.Contract, int8.Contract);
        Assert.Equal(f.ModelName + "-int8", q.ModelName);
        Assert.Equal(f.ModelVersion, q.ModelVersion);
        Assert.Equal(f.ClassNames, q.ClassNames);
        Assert.Equal(f.KeypointNames, q.KeypointNames);
        Assert.Equal(f.Normalization.Mean, q.Normalization.Mean);
        Assert.Equal(f.Normalization.Std, q.Normalization.Std);
        Assert.Equal((f.Kind, f.Stride, f.SizePolicy, f.TrainedMicrometresPerPixel), (q.Kind, q.Stride, q.SizePolicy, q.TrainedMicrometresPerPixel));
        Assert.NotEqual(float32.Sha256Hex, int8.Sha256Hex);
    }

    private static string ModelFile(string name) => Path.Combine(TestServices.RepoRoot, "models", name);

    private static async Task<(int Images, Dictionary<string, PatientReport> Reports, int ApexCut)> OfflineReportsAsync(string modelPath)
    {
        var inventory = StudyLayout.Discover(Sample);
        var calibration = new Calibration(inventory.Manifest!.MicrometresPerPixel!.Value);
        using var model = LoadedModel.Load(new InferenceOptions { ModelPath = modelPath });
        var analysis = AnalysisOptions.Default;
        await using var analyzer = new ImageAnalyzer(model, new InferenceOptions { ModelPath = modelPath }, new DynamicBatcherOptions { MaxBatchSize = 2 });
        var fields = new FieldAnalyzer(analyzer, new ImageMeasurer(analysis));
        var outcomes = new List<FieldOutcome>();
        await foreach (var outcome in fields.AnalyzeInOrderAsync(inventory.Images.Select(i => (i.FullPath, calibration)), 4))
            outcomes.Add(outcome);
        var aggregator = new PatientAggregator(analysis);
        var reports = inventory.Images.Zip(outcomes).GroupBy(p => p.First.Patient!).ToDictionary(g => g.Key,
            g => aggregator.Aggregate(g.Key, g.Select(p => new FieldResult(p.First.RelativePath, p.First.Finger ?? "unknown", p.Second.Measurement, p.Second.Error))));
        int apexCut = outcomes.Sum(o => o.Measurement?.Capillaries.Count(c => c.ApexCutByFrame) ?? 0);
        return (outcomes.Count(o => o.Succeeded), reports, apexCut);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }
}
