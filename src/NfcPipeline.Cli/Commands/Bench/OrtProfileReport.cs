using System.Globalization;
using NfcPipeline.OnnxRuntime;
using Spectre.Console;

namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>Where a profiled session's time went, by operator type (`nfc bench inference --ort-profile`).</summary>
internal static class OrtProfileReport
{
    private const int Shown = 12;

    public static void Write(int batch, string trace)
    {
        var profile = OrtProfile.Read(trace);
        int runs = Math.Max(1, profile.Runs);
        double kernelMs = profile.KernelTime.TotalMilliseconds;
        Console.WriteLine($"ORT profile, batch {batch}: {profile.Runs} runs, {Ms(profile.RunTime.TotalMilliseconds / runs)} ms per run, " +
                          $"{Ms(kernelMs / runs)} ms of it in operators; trace {trace}");
        var table = new Table().AddColumns("operator", "nodes", "ms per run", "share");
        foreach (var op in profile.Operators.Take(Shown))
            table.AddRow(op.OpType, op.Nodes.ToString(CultureInfo.InvariantCulture), Ms(op.Total.TotalMilliseconds / runs), Share(op.Total.TotalMilliseconds, kernelMs));
        var rest = profile.Operators.Skip(Shown).ToList();
        if (rest.Count > 0)
        {
            double restMs = rest.Sum(o => o.Total.TotalMilliseconds);
            table.AddRow($"{rest.Count} others", rest.Sum(o => o.Nodes).ToString(CultureInfo.InvariantCulture), Ms(restMs / runs), Share(restMs, kernelMs));
        }
        AnsiConsole.Write(table);
        Console.WriteLine($"ort_profile_batch_{batch}={trace}");
    }

    private static string Ms(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);

    private static string Share(double part, double whole) =>
        (whole > 0 ? part / whole * 100 : 0).ToString("0.0", CultureInfo.InvariantCulture) + " %";
}
