using System.Diagnostics;
using System.Text;

namespace NfcPipeline.IntegrationTests.Infrastructure;

/// <summary>A real nfc-worker process, configured through environment variables, that tests can stop gracefully or kill.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private WorkerProcess(Process process) => _process = process;

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>Where its health endpoints listen (Kestrel's "Now listening on" line; a port of 0 is chosen at start), once known.</summary>
    public Uri? HealthUrl =>
        System.Text.RegularExpressions.Regex.Match(Output, @"Now listening on: (http://127\.0\.0\.1:\d+)") is { Success: true } m ? new Uri(m.Groups[1].Value) : null;

    /// <summary>GET a health endpoint once it listens: its status code and body.</summary>
    public async Task<(int Status, string Body)> GetHealthAsync(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (HealthUrl is null)
        {
            if (HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException("the worker's health endpoint never listened:\n" + Output);
            await Task.Delay(100);
        }
        using var client = new HttpClient { BaseAddress = HealthUrl, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await client.GetAsync(path);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static WorkerProcess Start(IReadOnlyDictionary<string, string> settings)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "nfc-worker.dll");
        var psi = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var (key, value) in settings) psi.Environment[key] = value;
        if (!settings.ContainsKey("Worker__HealthUrls")) psi.Environment["Worker__HealthUrls"] = "http://127.0.0.1:0";
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var worker = new WorkerProcess(process);
        process.OutputDataReceived += (_, e) => worker.Append(e.Data);
        process.ErrorDataReceived += (_, e) => worker.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <summary>SIGKILL: no chance to finish, commit or ack.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM: the graceful shutdown path.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            // Also waits until its redirected output is read to the end: a worker refusing to start exits in a second,
            // before the reader had its lines (the output read as empty).
            await _process.WaitForExitAsync();
            return _process.ExitCode;
        }
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await kill!.WaitForExitAsync();
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try { await StopAsync(TimeSpan.FromSeconds(20)); }
            catch (OperationCanceledException) { Kill(); }
        }
        _process.Dispose();
    }
}
