using System.CommandLine;
using NfcPipeline.Storage;

namespace NfcPipeline.Cli.Commands;

/// <summary>Options that several verbs share, so they read the same everywhere.</summary>
internal static class CommonOptions
{
    public static Option<string?> Connection() => new("--connection")
    {
        Description = $"Npgsql connection string. Default: NFC_PG_CONNECTION, else {StorageOptions.LocalDefault}",
    };

    /// <summary>The connection string to use; a malformed one is a usage error (<see cref="CliUsageException"/>).</summary>
    public static string ResolveConnection(string? fromOption)
    {
        var resolved = new StorageOptions { ConnectionString = fromOption }.ResolveConnectionString();
        try { _ = new Npgsql.NpgsqlConnectionStringBuilder(resolved); }
        catch (ArgumentException ex) { throw new CliUsageException($"the connection string is malformed: {ex.Message}"); }
        return resolved;
    }
}

/// <summary>A bad argument found while a verb runs: printed as "nfc VERB: message", exit code 2, no stack trace.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
