using System.CommandLine;
using Npgsql;
using NfcPipeline.Storage.Migrations;

namespace NfcPipeline.Cli.Commands;

/// <summary>`nfc migrate`: applies pending schema migrations.</summary>
internal static class MigrateCommand
{
    public static Command Create()
    {
        var connection = CommonOptions.Connection();
        var directory = new Option<DirectoryInfo?>("--dir")
        {
            Description = "Read migrations from this folder instead of the ones built into nfc.",
        };
        var command = new Command("migrate", "Apply pending database migrations (safe to run concurrently and repeatedly).")
        {
            connection, directory,
        };
        command.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(directory);
            try
            {
                var migrations = dir is null ? MigrationSource.Embedded() : MigrationSource.FromDirectory(dir.FullName);
                var runner = new MigrationRunner(CommonOptions.ResolveConnection(parse.GetValue(connection)));
                var result = await runner.ApplyAsync(migrations, ct);
                if (result.NothingToApply)
                    Console.WriteLine($"Nothing to apply: all {result.AlreadyApplied} migrations are already applied.");
                else
                    foreach (var m in result.Applied)
                        Console.WriteLine($"Applied {m}");
                return NfcCommandLine.Success;
            }
            catch (MigrationException ex)
            {
                await Console.Error.WriteLineAsync($"nfc migrate: {ex.Message}");
                return NfcCommandLine.Fatal;
            }
            catch (NpgsqlException ex)
            {
                var problem = DatabaseErrors.Describe(ex);
                await Console.Error.WriteLineAsync($"nfc migrate: {problem}" + (ex is PostgresException ? "" : ". Is it running (ops/services.sh up)?"));
                return NfcCommandLine.Fatal;
            }
        });
        return command;
    }
}
