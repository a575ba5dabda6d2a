using System.CommandLine;
using NfcPipeline.Cli.Output;
using NfcPipeline.Dashboard.Rendering;
using NfcPipeline.Storage.Reporting;
using Npgsql;
using Spectre.Console;

namespace NfcPipeline.Cli.Commands;

/// <summary>`nfc report PATIENT`: a patient's metrics on screen, or exported as CSV or printable HTML.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var patient = new Argument<string>("patient") { Description = "A patient id (number) or STUDY/PATIENT (the study id and the patient code)." };
        var csv = new Option<FileInfo?>("--csv") { Description = "Write the metrics as CSV to this file ('-': standard output)." };
        var html = new Option<FileInfo?>("--html") { Description = "Write the printable HTML report to this file ('-': standard output)." };
        var connection = CommonOptions.Connection();
        var command = new Command("report", "Show or export a patient's report.") { patient, csv, html, connection };
        command.SetAction(async (parse, ct) =>
        {
            var (csvOut, htmlOut) = (parse.GetValue(csv), parse.GetValue(html));
            if (csvOut is not null && htmlOut is not null &&
                (IsStdout(csvOut) || IsStdout(htmlOut) ? IsStdout(csvOut) && IsStdout(htmlOut) : csvOut.FullName == htmlOut.FullName))
            {
                Console.Error.WriteLine("nfc report: --csv and --html name the same output; give each its own.");
                return NfcCommandLine.Usage;
            }
            try
            {
                await using var dataSource = NpgsqlDataSource.Create(CommonOptions.ResolveConnection(parse.GetValue(connection)));
                var queries = new ReportingQueries(dataSource);
                var id = await ResolveAsync(queries, parse.GetValue(patient)!, ct);
                var report = id is null ? null : await PatientReport.LoadAsync(queries, id.Value, null, ct);
                if (report is null)
                {
                    string given = parse.GetValue(patient)!;
                    Console.Error.WriteLine(given.All(char.IsAsciiDigit) && given.Length > 1 && given[0] == '0'
                        ? $"nfc report: '{given}' is no id as written (an id has no leading zeros) and no STUDY/PATIENT; give one or the other."
                        : "nfc report: no such patient; give a patient id or STUDY/PATIENT.");
                    return NfcCommandLine.Fatal;
                }
                // With an output on standard output, what was written is said on standard error.
                var notes = (csvOut is not null && IsStdout(csvOut)) || (htmlOut is not null && IsStdout(htmlOut)) ? Console.Error : Console.Out;
                if (csvOut is not null || htmlOut is not null)
                    await notes.WriteLineAsync($"Study {report.Patient.StudyExternalId} · patient {report.Patient.Code} (#{report.Patient.Id})");
                if (csvOut is not null)
                {
                    await WriteAsync(csvOut, w => ReportCsv.WritePatientAsync(w, report.Patient, report.AllModels), notes, ct);
                    // Scripts exporting many patients would otherwise take an empty file for an empty result.
                    if (report.AllModels.Count == 0)
                        Console.Error.WriteLine($"nfc report: this patient has no results yet ({report.Patient.State}); the CSV holds its header only.");
                }
                if (htmlOut is not null) await WriteAsync(htmlOut, w => w.WriteAsync(PrintableReport.Render(report, DateTime.UtcNow)), notes, ct);
                // The files hold the figures as stored; that they do not count a review yet is said here (and in the HTML).
                if ((csvOut is not null || htmlOut is not null) && PatientReportView.PendingReview(report) is { } pending)
                    Console.Error.WriteLine($"nfc report: {pending} A worker recomputes them; export again once it has.");
                if (csvOut is null && htmlOut is null) Print(report);
                return NfcCommandLine.Success;
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine($"nfc report: {DatabaseErrors.Describe(ex)}");
                return NfcCommandLine.Fatal;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"nfc report: cannot write the report: {ex.Message}");
                return NfcCommandLine.Fatal;   // the file system's answer, not a wrong command
            }
        });
        return command;
    }

    /// <summary>
    /// "-", or standard output named as a file: written as "-" is, with the notes on standard error, not replaced (a
    /// file behind `>>` lost what it held) or written around its notes (a pipe).
    /// </summary>
    private static bool IsStdout(FileInfo file) => file.ToString() == "-" || file.FullName is "/dev/stdout" or "/dev/fd/1" or "/proc/self/fd/1";

    /// <summary>Standard error named as a file: written as standard output is (a file behind `2&gt;&gt;` was renamed over, its log lost).</summary>
    private static bool IsStderr(FileInfo file) => file.FullName is "/dev/stderr" or "/dev/fd/2" or "/proc/self/fd/2";

    private static async Task WriteAsync(FileInfo file, Func<TextWriter, Task> write, TextWriter notes, CancellationToken ct)
    {
        if (IsStdout(file))
        {
            await write(Console.Out);
            await Console.Out.FlushAsync(ct);
            return;
        }
        if (IsStderr(file))
        {
            await write(Console.Error);
            await Console.Error.FlushAsync(ct);
            return;
        }
        await ReplacedFile.WriteAsync(file.FullName, write, ct);
        await notes.WriteLineAsync($"Wrote {file.FullName}");
    }

    private static async Task<long?> ResolveAsync(ReportingQueries queries, string given, CancellationToken ct)
    {
        // Only a number as written for an id ("17", not "017" or "+17"): a patient code that looks like a number is not one.
        if (long.TryParse(given, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
            && id.ToString(System.Globalization.CultureInfo.InvariantCulture) == given) return id;
        var slash = given.IndexOf('/');
        return slash <= 0 ? null : await queries.FindPatientAsync(given[..slash], given[(slash + 1)..], ct);
    }

    private static void Print(PatientReport r)
    {
        Formatting.WideWhenRedirected();
        AnsiConsole.Write(new Text($"Study {r.Patient.StudyExternalId} · patient {r.Patient.Code} (#{r.Patient.Id}) · {r.Patient.State}\n"));
        if (r.Metrics is not { } m)
        {
            Console.WriteLine("No results yet.");
            return;
        }
        var table = new Table().AddColumns("metric", "value");
        void Row(string name, object? value) => table.AddRow(StatusCommand.Cells(name, value));
        Row("pattern", m.Pattern);
        Row("density mean/median/SD per mm", $"{Formatting.Num(m.DensityMean, "0.##")} / {Formatting.Num(m.DensityMedian, "0.##")} / {Formatting.Num(m.DensitySd, "0.##")}");
        Row("gradable / ungradable / failed fields", $"{m.GradableFields} / {m.UngradableFields} / {(m.FailedFields?.ToString() ?? "?")}");
        foreach (var field in r.Images.Where(i => i.QcExclusion is not null)) Row($"excluded at review: {field.RelPath}", field.QcExclusion);
        if (r.ImagesCut) Row("images listed", $"the first {r.Images.Count} only (the figures count them all; results.csv lists every one)");
        if (r.ReviewPendingSince is not null)
            Row("pending", "a field was excluded or included after this result was computed; a worker recomputes it");
        Row("calibration µm/px", m.UmPerPx?.ToString("0.###") ?? "more than one, or not recorded");
        Row("loops (gradable fields)", m.CapillaryCount);
        Row("dilated / giant", $"{m.DilatedCount} / {m.GiantCount}");
        Row("abnormal / hemorrhages", $"{m.AbnormalCount} / {m.HemorrhageCount}");
        foreach (var (name, count) in PatientReportView.Morphology(m.Morphology)) Row($"class {name}", count);
        foreach (var (finger, density) in PatientReportView.PerFinger(m.PerFinger)) Row($"density {finger} per mm", density.ToString("0.##"));
        Row("model", $"{m.ModelName} {m.ModelVersion} sha256 {m.ModelSha256}");
        AnsiConsole.Write(table);
        AnsiConsole.Write(new Text(PatientReportView.ResearchUseNotice(m) + "\n"));
    }
}
