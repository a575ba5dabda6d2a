using System.CommandLine;
using NfcPipeline.Dashboard.Security;

namespace NfcPipeline.Cli.Commands;

/// <summary>`nfc hash-password`: reads a password from standard input and prints its Dashboard:Users PasswordHash.</summary>
internal static class HashPasswordCommand
{
    public static Command Create()
    {
        var iterations = new Option<int>("--iterations")
        {
            Description = $"PBKDF2 iterations (at least {PasswordHashes.MinIterations}).", DefaultValueFactory = _ => PasswordHashes.DefaultIterations,
        };
        var command = new Command("hash-password",
            "Read a password from standard input (one line; not from the command line, where other users and the shell history see it) " +
            "and print the salted hash for Dashboard:Users:N:PasswordHash.") { iterations };
        command.SetAction(parse =>
        {
            int count = parse.GetValue(iterations);
            if (count < PasswordHashes.MinIterations)
                throw new CliUsageException($"--iterations must be at least {PasswordHashes.MinIterations}.");
            if (!Console.IsInputRedirected) Console.Error.Write("Password: ");
            var password = Console.In.ReadLine();
            if (string.IsNullOrEmpty(password)) throw new CliUsageException("no password read from standard input.");
            Console.WriteLine(PasswordHashes.Create(password, count));
            return NfcCommandLine.Success;
        });
        return command;
    }
}
