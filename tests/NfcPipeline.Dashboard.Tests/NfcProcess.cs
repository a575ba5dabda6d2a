using System.Diagnostics;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Runs the built `nfc` CLI as a process, as a user would, and returns its exit code and output.</summary>
internal static class NfcProcess
{
    public static Task<(int Code, string Out, string Err)> RunAsync(params string[] args) => RunAsync(TimeSpan.FromMinutes(2), args);

    /// <summary>Past <paramref name="limit"/> the CLI is killed (with its worker, for a bench) and the test fails with its output.</summary>
    public static Task<(int Code, string Out, string Err)> RunAsync(TimeSpan limit, params string[] args) => RunAsync(limit, null, args);

    /// <summary>With <paramref name="input"/> as its standard input.</summary>
    public static Task<(int Code, string Out, string Err)> RunWithInputAsync(string input, params string[] args) =>
        RunAsync(TimeSpan.FromMinutes(2), input, args);

    /// <summary>With <paramref name="environment"/> added to the CLI's environment.</summary>
    public static Task<(int Code, string Out, string Err)> RunWithEnvironmentAsync(Dictionary<string, string> environment, params string[] args) =>
        RunAsync(TimeSpan.FromMinutes(2), null, args, environment);

    private static async Task<(int Code, string Out, string Err)> RunAsync(TimeSpan limit, string? input, string[] args,
        Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "nfc.dll"), .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.Environment["NFC_RABBIT_URI"] = TestServices.RabbitUri.ToString();
        foreach (var (name, value) in environment ?? []) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"nfc {string.Join(' ', args)} did not finish within {limit}:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// Starts the CLI, sends it SIGTERM after <paramref name="after"/>, and returns how it ended and how long it took to
    /// after the signal. SIGTERM, which the CLI handles as Ctrl-C: a test run started in the background (CI) inherits
    /// SIGINT ignored, as shells start background jobs, and the CLI never sees a SIGINT.
    /// </summary>
    /// <summary>
    /// Runs nfc and sends it SIGTERM once its standard output has shown <paramref name="ready"/> and then
    /// <paramref name="after"/> more has passed (a fixed delay alone signalled a start slowed by a loaded machine).
    /// </summary>
    public static async Task<(int Code, string Out, string Err, TimeSpan Stopping)> RunAndTerminateAsync(string ready, TimeSpan after, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "nfc.dll"), .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory,
        };
        start.Environment["NFC_RABBIT_URI"] = TestServices.RabbitUri.ToString();
        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var shown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { shown.TrySetResult(); return; }
            lock (output) output.AppendLine(e.Data);
            if (e.Data.Contains(ready, StringComparison.Ordinal)) shown.TrySetResult();
        };
        process.BeginOutputReadLine();
        var stderr = process.StandardError.ReadToEndAsync();
        string Out() { lock (output) return output.ToString(); }
        await shown.Task.WaitAsync(TimeSpan.FromMinutes(2));
        await Task.Delay(after);
        if (process.HasExited) Assert.Fail($"nfc {string.Join(' ', args)} ended before it was interrupted:\n{Out()}\n{await stderr}");
        var clock = Stopwatch.StartNew();
        using (var signal = Process.Start("kill", ["-TERM", process.Id.ToString()])) await signal.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"nfc {string.Join(' ', args)} did not stop within 60 s of SIGTERM:\n{Out()}\n{await stderr}");
        }
        await process.WaitForExitAsync();   // the output read to its end
        return (process.ExitCode, Out(), await stderr, clock.Elapsed);
    }

    /// <summary>The value of a `key=value` line of a bench's output.</summary>
    public static double Value(string output, string key) =>
        double.Parse(output.Split('\n').Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..].Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
}
