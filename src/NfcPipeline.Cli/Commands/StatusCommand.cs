using System.CommandLine;
using NfcPipeline.Cli.Output;
using NfcPipeline.Storage.Reporting;
using Npgsql;
using Spectre.Console;

namespace NfcPipeline.Cli.Commands;

/// <summary>`nfc status [STUDY]`: progress of the latest studies, or one study's patients.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var study = new Argument<string?>("study") { Description = "A study id; without it, the latest studies.", Arity = ArgumentArity.ZeroOrOne };
        var limit = new Option<int>("--limit") { Description = "How many studies to list.", DefaultValueFactory = _ => 50 };
        var connection = CommonOptions.Connection();
        var command = new Command("status", "Show study progress (and a study's patients).") { study, limit, connection };
        command.SetAction(async (parse, ct) =>
        {
            Formatting.WideWhenRedirected();
            if (parse.GetValue(study) is not null && parse.GetResult(limit) is { Implicit: false })
            {
                Console.Error.WriteLine("nfc status: --limit goes with the list of studies, not with one STUDY.");
                return NfcCommandLine.Usage;
            }
            try
            {
                await using var dataSource = NpgsqlDataSource.Create(CommonOptions.ResolveConnection(parse.GetValue(connection)));
                var queries = new ReportingQueries(dataSource);
                if (parse.GetValue(study) is not { } id)
                {
                    // Out of range is a typo, not "the one most recent study".
                    int n = parse.GetValue(limit);
                    if (n is < 1 or > 10_000)
                    {
                        Console.Error.WriteLine($"nfc status: --limit must be 1 to 10000, got {n}.");
                        return NfcCommandLine.Usage;
                    }
                    var table = StudyTable();
                    var page = await queries.StudiesAsync(null, null, n, ct);
                    foreach (var s in page.Rows) AddStudy(table, s);
                    AnsiConsole.Write(table);
                    // On standard error: the table on standard output stays the table alone.
                    if (page.NextBefore is not null)
                        Console.Error.WriteLine($"nfc status: only the {n} most recent {(n == 1 ? "study is" : "studies are")} shown; --limit shows more.");
                    return NfcCommandLine.Success;
                }
                var one = await queries.StudyByExternalIdAsync(id, ct);
                if (one is null)
                {
                    Console.Error.WriteLine($"nfc status: there is no study '{id}'.");
                    return NfcCommandLine.Fatal;
                }
                var studyTable = StudyTable();
                AddStudy(studyTable, one);
                AnsiConsole.Write(studyTable);
                var patients = new Table().AddColumns("patient id", "patient", "state", "images", "succeeded", "failed", "pattern", "density /mm");
                foreach (var p in await queries.PatientsAsync(one.Id, ct))
                    patients.AddRow(Cells(p.Id, p.Code, p.State, p.Images, p.Succeeded, p.Failed, p.Pattern, p.DensityMean is null ? null : Formatting.Num(p.DensityMean, "0.##")));
                AnsiConsole.Write(patients);
                return NfcCommandLine.Success;
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine($"nfc status: {DatabaseErrors.Describe(ex)}");
                return NfcCommandLine.Fatal;
            }
        });
        return command;
    }

    private static Table StudyTable() => new Table().AddColumns("study", "state", "images", "succeeded", "failed", "remaining", "% done", "registered");

    private static void AddStudy(Table table, StudyProgress s) =>
        table.AddRow(Cells(s.ExternalId, s.State, s.Images, s.Succeeded, s.Failed, s.Remaining, s.PercentDone, s.RegisteredAt.ToString("u")));

    /// <summary>Cells as plain text: names come from folders and must not be read as Spectre markup.</summary>
    internal static Spectre.Console.Rendering.IRenderable[] Cells(params object?[] values) =>
        values.Select(v => (Spectre.Console.Rendering.IRenderable)new Text(Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "")).ToArray();
}
