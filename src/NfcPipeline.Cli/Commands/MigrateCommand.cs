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
            // A wrong --dir is the command's mistake (usage): one with no migrations "applied" nothing, and reported success.
            if (dir is not null && !dir.Exists)
            {
                await Console.Error.WriteLineAsync($"nfc migrate: --dir {dir.FullName}: {(File.Exists(dir.FullName) ? "a file, not a folder" : "no such folder")}");
                return NfcCommandLine.Usage;
            }
            try
            {
                var migrations = dir is null ? MigrationSource.Embedded() : MigrationSource.FromDirectory(dir.FullName);
                if (migrations.Count == 0)
                {
                    await Console.Error.WriteLineAsync($"nfc migrate: {(dir is null ? "this nfc has no migrations built in" : $"--dir {dir.FullName} holds no migrations (NNNN_name.sql files)")}");
                    return NfcCommandLine.Usage;
                }
                var runner = new MigrationRunner(CommonOptions.ResolveConnection(parse.GetValue(connection)));
                var result = await runner.ApplyAsync(migrations, ct);
                if (result.NothingToApply)
                    Console.WriteLine($"Nothing to apply: all {result.AlreadyApplied} migrations are already applied.");
                else
                    foreach (var m in result.Applied)
                        Console.WriteLine($"Applied {m}");
                if (result.UnknownApplied.Count > 0)
                    await Console.Error.WriteLineAsync($"nfc migrate: warning: the database has migration(s) {string.Join(", ", result.UnknownApplied.Select(v => v.ToString("D4")))} " +
                        "that this nfc does not know: a newer version applied them; use that version's nfc.");
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
