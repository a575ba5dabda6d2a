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
            Description = $"PBKDF2 iterations ({PasswordHashes.MinIterations} to {PasswordHashes.MaxIterations}).", DefaultValueFactory = _ => PasswordHashes.DefaultIterations,
        };
        var command = new Command("hash-password",
            "Read a password from standard input (one line; not from the command line, where other users and the shell history see it) " +
            "and print the salted hash for Dashboard:Users:N:PasswordHash.") { iterations };
        command.SetAction(parse =>
        {
            int count = parse.GetValue(iterations);
            if (count is < PasswordHashes.MinIterations or > PasswordHashes.MaxIterations)
                throw new CliUsageException($"--iterations must be {PasswordHashes.MinIterations} to {PasswordHashes.MaxIterations} (more would make every sign-in that slow).");
            var password = Console.IsInputRedirected ? Console.In.ReadLine() : ReadWithoutEcho();
            if (string.IsNullOrEmpty(password)) throw new CliUsageException("no password read from standard input.");
            if (BindingGuard.IsCommonPassword(password))
                throw new CliUsageException("that password is one everyone tries first (\"password\", \"admin\", ...); choose another.");
            Console.WriteLine(PasswordHashes.Create(password, count));
            return NfcCommandLine.Success;
        });
        return command;
    }

    /// <summary>A password typed at a terminal, not shown on it (nor in its scrollback).</summary>
    private static string ReadWithoutEcho()
    {
        Console.Error.Write("Password: ");
        var typed = new System.Text.StringBuilder();
        for (var key = Console.ReadKey(intercept: true); key.Key != ConsoleKey.Enter; key = Console.ReadKey(intercept: true))
        {
            if (key.Key == ConsoleKey.Backspace) { if (typed.Length > 0) typed.Length--; }
            else if (!char.IsControl(key.KeyChar)) typed.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return typed.ToString();
    }
}
