using System.CommandLine;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Reporting;
using Npgsql;

namespace NfcPipeline.Cli.Commands;

/// <summary>
/// `nfc exclude-field STUDY FIELD --reason TEXT` and `nfc include-field STUDY FIELD`: a reviewer leaves a field out of
/// its patient's results, or takes it back; a worker then aggregates the patient again (ReaggregatePatient).
/// </summary>
internal static class FieldReviewCommand
{
    public static Command Exclude() => Create(exclude: true);

    public static Command Include() => Create(exclude: false);

    private static Command Create(bool exclude)
    {
        var name = exclude ? "exclude-field" : "include-field";
        var study = new Argument<string>("study") { Description = "The study id (as `nfc status` lists it)." };
        var field = new Argument<string>("field")
        {
            Description = "The field's path as the reports show it: patient code/finger/file, as in the study's results.csv and v_image_results.rel_path.",
        };
        var reason = new Option<string?>("--reason") { Description = "Why it is left out; shown with the field and kept in the audit log.", Required = exclude };
        var connection = CommonOptions.Connection();
        var rabbit = CliBus.RabbitOption();
        var command = new Command(name, exclude
            ? "Leave a field out of its patient's results (an artefact, the wrong finger): it counts as ungradable with your reason, and a worker recomputes the patient."
            : "Take a field excluded at review back into its patient's results; a worker recomputes the patient.")
            { study, field, connection, rabbit };
        if (exclude) command.Add(reason);
        command.SetAction(async (parse, ct) =>
        {
            var why = parse.GetValue(reason);
            if (exclude && FieldReview.ReasonProblem(why) is { } problem)
            {
                Console.Error.WriteLine($"nfc {name}: {problem}");
                return NfcCommandLine.Usage;
            }
            try
            {
                await using var dataSource = NpgsqlDataSource.Create(CommonOptions.ResolveConnection(parse.GetValue(connection)));
                var review = new FieldReview(dataSource);
                var studyId = parse.GetValue(study)!;
                var matches = await review.FindAsync(studyId, parse.GetValue(field)!, ct);
                if (FieldReview.LookupProblem(matches, studyId, parse.GetValue(field)!) is { } lookup)
                {
                    Console.Error.WriteLine($"nfc {name}: {lookup}.");
                    return NfcCommandLine.Fatal;
                }
                var imageId = matches[0];
                // The broker first: with it away, nothing is changed that no worker would act on.
                await using var bus = await CliBus.StartAsync(parse.GetValue(rabbit), ct);
                var result = exclude ? await review.ExcludeAsync(imageId, why!, AuditLog.CliActor, ct) : await review.IncludeAsync(imageId, AuditLog.CliActor, ct);
                if (result.Outcome == FieldReviewOutcome.NotFound)
                {
                    Console.Error.WriteLine($"nfc {name}: the field is gone (its study was deleted or submitted again without it).");
                    return NfcCommandLine.Fatal;
                }
                if (result.Outcome == FieldReviewOutcome.NoResult)
                {
                    Console.Error.WriteLine($"nfc {name}: field {result.ShownPath} is not excluded: {FieldReview.NoResultReason}.");
                    return NfcCommandLine.Fatal;
                }
                try { await bus.PublishAsync(new ReaggregatePatient(result.PatientId, AuditLog.CliActor), ct); }
                // The change is saved by now: a Ctrl-C here says so too, rather than a bare "cancelled".
                catch (Exception ex) when (ex is MassTransit.MassTransitException or OperationCanceledException)
                {
                    bool interrupted = ct.IsCancellationRequested;
                    Console.Error.WriteLine($"nfc {name}: the field is {(exclude ? "excluded" : "included")}, but the request to recompute its patient " +
                        (interrupted ? "was interrupted" : $"could not be published ({ex.Message})") + "; run the command again.");
                    return interrupted ? NfcCommandLine.Cancelled : NfcCommandLine.Fatal;
                }
                Console.WriteLine(result.Outcome == FieldReviewOutcome.Changed
                    ? $"Field {result.ShownPath} {(exclude ? "excluded" : "included again")}; a worker recomputes the patient's results."
                    : $"Field {result.ShownPath} {(exclude ? "was already excluded for that reason" : "was not excluded")}; a worker recomputes the patient's results.");
                return NfcCommandLine.Success;
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine($"nfc {name}: {DatabaseErrors.Describe(ex)}");
                return NfcCommandLine.Fatal;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Console.Error.WriteLine($"nfc {name}: cancelled.");
                return NfcCommandLine.Cancelled;
            }
            catch (Exception ex) when (ex is MassTransit.MassTransitException or OperationCanceledException)
            {
                Console.Error.WriteLine($"nfc {name}: cannot reach RabbitMQ: {ex.Message}; nothing was changed.");
                return NfcCommandLine.Fatal;
            }
        });
        return command;
    }
}
