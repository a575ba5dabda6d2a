using System.CommandLine;
using NfcPipeline.Storage.Reporting;
using Npgsql;

namespace NfcPipeline.Cli.Commands;

/// <summary>`nfc delete-study STUDY --yes`: removes a study entered by mistake (its rows only; never the share's files).</summary>
internal static class DeleteStudyCommand
{
    public static Command Create()
    {
        var study = new Argument<string>("study") { Description = "The study id (as `nfc status` lists it)." };
        var yes = new Option<bool>("--yes") { Description = "Delete: without it, nothing is deleted." };
        var connection = CommonOptions.Connection();
        var command = new Command("delete-study",
            "Delete a study that is not processing: its patients, images, patient results and jobs. Image results stay, keyed by content; the files in the share are not touched.")
            { study, yes, connection };
        command.SetAction(async (parse, ct) =>
        {
            var id = parse.GetValue(study)!;
            if (!parse.GetValue(yes))
            {
                Console.Error.WriteLine($"nfc delete-study: this deletes study '{id}' with its patients, images, patient results and jobs " +
                    "(its files in the share are not touched); run it again with --yes.");
                return NfcCommandLine.Usage;
            }
            try
            {
                await using var dataSource = NpgsqlDataSource.Create(CommonOptions.ResolveConnection(parse.GetValue(connection)));
                var result = await new StudyAdmin(dataSource).DeleteAsync(id, AuditLog.CliActor, ct);
                switch (result.Outcome)
                {
                    case StudyDeletion.NotFound:
                        Console.Error.WriteLine($"nfc delete-study: there is no study '{id}' (nfc status lists them).");
                        return NfcCommandLine.Fatal;
                    case StudyDeletion.StillProcessing:
                        Console.Error.WriteLine($"nfc delete-study: study '{id}' is still processing; delete it once it has completed " +
                            "(nfc status; failed jobs can be requeued or deleted on the dashboard).");
                        return NfcCommandLine.Fatal;
                    default:
                        // A share watcher submits the folder again only when it changes.
                        Console.WriteLine($"Deleted study {id}: {result.Patients} patient(s), {result.Images} image(s).");
                        return NfcCommandLine.Success;
                }
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine($"nfc delete-study: {DatabaseErrors.Describe(ex)}");
                return NfcCommandLine.Fatal;
            }
        });
        return command;
    }
}
