using System.CommandLine;
using NfcPipeline.Cli.Commands;
using NfcPipeline.Cli.Commands.Bench;

namespace NfcPipeline.Cli;

/// <summary>The `nfc` command tree. Exit codes: 0 success, 1 fatal error, 2 usage error.</summary>
public static partial class NfcCommandLine
{
    public const int Success = 0;
    public const int Fatal = 1;
    public const int Usage = 2;
    /// <summary>Interrupted (Ctrl-C): 128 + SIGINT, as shells report it.</summary>
    public const int Cancelled = 130;

    private static readonly TimeSpan TerminationGrace = TimeSpan.FromSeconds(30);

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
        root.Add(FieldReviewCommand.Exclude());
        root.Add(FieldReviewCommand.Include());
        root.Add(HashPasswordCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        // No response files: '@' starts ordinary values (a reason "@clinic: blurred", a study id) rather than reading a file.
        var parseResult = Build().Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
                await Console.Error.WriteLineAsync($"nfc: {Output.Secrets.RedactToken(Plain(error.Message))}");
            var verb = Verb(parseResult);
            await Console.Error.WriteLineAsync($"Run 'nfc {(verb.Length > 0 ? verb + " " : "")}--help' for usage.");
            return Usage;
        }
        // Our own handler, not System.CommandLine's, so a bad value met while a verb runs is a usage error.
        // Ctrl-C cancels the verb's token; it then has TerminationGrace to clean up (a bench drops its database and
        // broker vhost and stops its worker), not System.CommandLine's default 2 s, which cut that short.
        var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = TerminationGrace };
        try { return await parseResult.InvokeAsync(invocation); }
        catch (Exception ex) when (ex is CliUsageException or Intake.StudyLayoutException)
        {
            // A layout the verb cannot use (a bench's --source with a bad study.json, say) is the user's to fix.
            await Console.Error.WriteLineAsync($"nfc {Verb(parseResult)}: {ex.Message}");
            return Usage;
        }
        catch (OperationCanceledException ex) when (ex.InnerException is TimeoutException)
        {
            // An HTTP request that timed out (a bench's broker management API, a page), not a Ctrl-C.
            await Console.Error.WriteLineAsync($"nfc {Verb(parseResult)}: timed out: {ex.Message}");
            return Fatal;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("nfc: cancelled.");
            return Cancelled;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A file the verb needed (a model, a migration, an output): its message names it; no stack trace.
            await Console.Error.WriteLineAsync($"nfc {Verb(parseResult)}: {ex.Message}");
            return Fatal;
        }
        catch (Exception ex)
        {
            // A defect, not a user's mistake: the trace is what a report of it needs.
            await Console.Error.WriteLineAsync($"nfc: unexpected error (please report it): {ex}");
            return Fatal;
        }
    }

    /// <summary>A parse error with .NET's type names ("as expected type 'System.Int32'") said in words.</summary>
    private static string Plain(string message) => ExpectedType().Replace(message, m => m.Groups[1].Value switch
    {
        "System.Int32" or "System.Int64" => "as a whole number",
        "System.Double" => "as a number",
        "System.Boolean" => "as true or false",
        _ => m.Value,
    });

    [System.Text.RegularExpressions.GeneratedRegex(@"as expected type '([\w.]+)'")]
    private static partial System.Text.RegularExpressions.Regex ExpectedType();

    /// <summary>The verb as typed ("bench inference", not "inference"), for messages.</summary>
    private static string Verb(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null && result.Parent is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, result.Command.Name);
        return string.Join(' ', names);
    }
}
