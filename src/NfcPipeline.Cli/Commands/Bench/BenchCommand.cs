using System.CommandLine;

namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>`nfc bench`: benchmark commands; each prints ratios measured side by side in one run.</summary>
internal static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks that print ratios measured side by side in one run.")
    {
        BenchInferenceCommand.Create(),
        BenchPipelineCommand.Create(),
        BenchDashboardCommand.Create(),
    };
}
