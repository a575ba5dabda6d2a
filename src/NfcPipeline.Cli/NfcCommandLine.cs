using System.CommandLine;
using NfcPipeline.Cli.Commands;
using NfcPipeline.Cli.Commands.Bench;

namespace NfcPipeline.Cli;

/// <summary>The `nfc` command tree. Exit codes: 0 success, 1 fatal error, 2 usage error.</summary>
public static class NfcCommandLine
{
    public const int Success = 0;
    public const int Fatal = 1;
    public const int Usage = 2;

    public static RootCommand Build()
    {
        var root = new RootCommand("NfcPipeline: nailfold capillaroscopy analysis from the command line.");
        root.Add(MigrateCommand.Create());
        root.Add(AnalyzeCommand.Create());
        root.Add(EvaluateCommand.Create());
        root.Add(BenchCommand.Create());
        root.Add(EnqueueCommand.Create());
        root.Add(StatusCommand.Create());
        root.Add(ReportCommand.Create());
        root.Add(RequeueCommand.Create());
        root.Add(DeleteStudyCommand.Create());
        root.Add(HashPasswordCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var parseResult = Build().Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
                await Console.Error.WriteLineAsync($"nfc: {error.Message}");
            await Console.Error.WriteLineAsync("Run 'nfc --help' for usage.");
            return Usage;
        }
        // Our own handler, not System.CommandLine's, so a bad value met while a verb runs is a usage error.
        try { return await parseResult.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }); }
        catch (CliUsageException ex)
        {
            await Console.Error.WriteLineAsync($"nfc {parseResult.CommandResult.Command.Name}: {ex.Message}");
            return Usage;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("nfc: cancelled.");
            return Fatal;
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"Unhandled exception: {ex}");
            return Fatal;
        }
    }
}
