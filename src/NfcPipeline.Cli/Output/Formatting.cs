using System.Globalization;
using NfcPipeline.Core.Aggregation;

namespace NfcPipeline.Cli.Output;

internal static class Formatting
{
    /// <summary>Piped output has no terminal width; Spectre then assumes 80 columns and wraps every cell.</summary>
    public static void WideWhenRedirected()
    {
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = Math.Max(Spectre.Console.AnsiConsole.Profile.Width, 200);
    }

    public static string Num(double? value, string format = "0.0") =>
        value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "–";

    public static string MeanSd(Summary s) => s.N == 0 ? "–" : s.Sd is { } sd ? $"{Num(s.Mean)} ± {Num(sd)}" : Num(s.Mean);

    public static string Pattern(FastTrackResult result) => result.Pattern switch
    {
        FastTrackPattern.NonScleroderma => "non-scleroderma",
        FastTrackPattern.Scleroderma => result.SubPattern is { } sub ? $"scleroderma ({sub.ToString().ToLowerInvariant()})" : "scleroderma (stage not determined)",
        _ => "indeterminate (too little gradable density to call)",
    };
}
