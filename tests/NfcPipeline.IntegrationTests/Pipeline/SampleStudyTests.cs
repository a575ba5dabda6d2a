using System.Text.Json;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>The bundled sample study through the whole pipeline with the reference model, against its ground truth.</summary>
public class SampleStudyTests
{
    private static readonly string Sample = Path.Combine(TestServices.RepoRoot, "samples", "demo-study");
    private static readonly string ReferenceModel = Path.Combine(TestServices.RepoRoot, "models", "nfc-reference.onnx");

    [Fact]
    public async Task The_sample_study_completes_and_each_patients_fast_track_pattern_matches_the_truth()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        CopyDirectory(Sample, Path.Combine(env.Share.FullName, "demo-study"));
        await env.StartWorkerAsync(new Dictionary<string, string> { ["Inference__ModelPath"] = ReferenceModel, ["Inference__IntraOpThreads"] = "0" });

        await env.SubmitAsync(new SubmitStudy { StudyId = "demo-study", FolderPath = "demo-study" });
        Assert.Equal("completed", await env.WaitForStudyAsync("demo-study", TimeSpan.FromMinutes(10)));

        using var truth = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestServices.RepoRoot, "samples", "demo-study.truth.json")));
        int images = truth.RootElement.GetProperty("images").GetArrayLength();
        Assert.Equal((long)images, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        foreach (var patient in truth.RootElement.GetProperty("patients").EnumerateArray())
        {
            var code = patient.GetProperty("patient").GetString();
            var expected = patient.GetProperty("pattern").GetString();
            var actual = await env.QueryScalarAsync<string>("select pattern from v_patient_summary where patient = @code", new { code });
            Assert.True(expected == actual, $"{code}: expected {expected}, got {actual}");
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }
}
