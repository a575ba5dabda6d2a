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

    public static string ResolveConnection(string? fromOption) =>
        new StorageOptions { ConnectionString = fromOption }.ResolveConnectionString();
}
