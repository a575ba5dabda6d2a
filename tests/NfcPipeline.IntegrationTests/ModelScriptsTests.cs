using System.Diagnostics;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.IntegrationTests;

/// <summary>ops/model's shell scripts: the paths they are given, and the files they would replace.</summary>
public sealed class ModelScriptsTests : IDisposable
{
    private readonly DirectoryInfo _caller = Directory.CreateTempSubdirectory("nfc-model-scripts-");

    public void Dispose() => _caller.Delete(recursive: true);

    [Fact]
    public async Task Finish_takes_paths_from_where_it_is_run_and_never_writes_its_card_over_another_readme()
    {
        // Run from a folder of the user's: its paths were taken from the project root, and a model named there had its
        // card moved over the project's README.md.
        var readme = Path.Combine(_caller.FullName, "README.md");
        File.WriteAllText(readme, "# my notes\n");
        var refused = await RunAsync("finish.sh", "run", "candidate.onnx");
        Assert.True(refused.ExitCode == 2, refused.Output);
        Assert.Contains($"{readme} is not a model card, and the model's card would replace it", refused.Output);
        Assert.Equal("# my notes\n", File.ReadAllText(readme));

        // A folder of its own: on to the next check, with the run folder found where it was run.
        var elsewhere = await RunAsync("finish.sh", "run", "models/candidate.onnx");
        Assert.Equal(1, elsewhere.ExitCode);
        Assert.Contains($"no {Path.Combine(_caller.FullName, "run", "final.pt")}: training has not finished", elsewhere.Output);
        Assert.False(Directory.Exists(Path.Combine(TestServices.RepoRoot, "run")));

        var notOnnx = await RunAsync("finish.sh", "run", "models/candidate.pt");
        Assert.Equal((2, true), (notOnnx.ExitCode, notOnnx.Output.Contains("the model must end in .onnx")));
    }

    private async Task<(int ExitCode, string Output)> RunAsync(string script, params string[] arguments)
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(TestServices.RepoRoot, "ops", "model", script), .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _caller.FullName,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (process.ExitCode, await stdout + await stderr);
    }
}
