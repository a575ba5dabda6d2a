using System.Diagnostics;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.IntegrationTests;

public class ServicesScriptTests
{
    [Fact]
    public async Task Services_up_when_already_up_is_a_no_op()
    {
        var before = PidFiles();
        var first = await RunScriptAsync("up");
        var second = await RunScriptAsync("up");

        Assert.True(first.ExitCode == 0, $"first 'up' exited {first.ExitCode}: {first.Output}");
        Assert.True(second.ExitCode == 0, $"second 'up' exited {second.ExitCode}: {second.Output}");
        Assert.Contains("PostgreSQL already running", second.Output);
        Assert.Contains("RabbitMQ already running", second.Output);
        Assert.DoesNotContain("starting", second.Output);
        var after = PidFiles();
        Assert.All(before.Keys, k => Assert.Equal(before[k], after[k]));
    }

    [Fact]
    public async Task Status_shows_both_servers_listening_on_loopback_only()
    {
        var status = await RunScriptAsync("status");

        Assert.Equal(0, status.ExitCode);
        var sockets = status.Output.Split('\n').SkipWhile(l => !l.StartsWith("listening sockets")).Skip(1)
            .Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        Assert.NotEmpty(sockets);
        Assert.All(sockets, s => Assert.True(s.StartsWith("127.0.0.1:") || s.StartsWith("[::1]:"), $"not loopback: {s}"));
    }

    private static Dictionary<string, string> PidFiles()
    {
        var svc = Path.Combine(TestServices.RepoRoot, ".local", "services");
        return new()
        {
            ["postgres"] = File.ReadLines(Path.Combine(svc, "pg", "data", "postmaster.pid")).First(),
            ["rabbitmq"] = File.ReadAllText(Path.Combine(svc, "rabbitmq", "rabbitmq.pid")).Trim(),
        };
    }

    private static async Task<(int ExitCode, string Output)> RunScriptAsync(string verb)
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(TestServices.RepoRoot, "ops", "services.sh"), verb])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestServices.RepoRoot,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        return (process.ExitCode, await stdout + await stderr);
    }
}
