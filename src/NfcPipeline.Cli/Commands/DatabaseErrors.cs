using Npgsql;

namespace NfcPipeline.Cli.Commands;

/// <summary>
/// A database error as its user can act on it: a server that answered and refused (no tables, a wrong password) is no
/// "cannot reach the database", which sends one looking for a network fault.
/// </summary>
internal static class DatabaseErrors
{
    public static string Describe(NpgsqlException ex) => ex switch
    {
        PostgresException p when NfcPipeline.Storage.Migrations.SchemaBehind.Is(p) =>
            $"the database's schema is missing or older than this nfc ({p.MessageText}): run 'nfc migrate' on it, or check the connection string",
        PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } p =>
            $"the database refused the login ({p.MessageText}): check the connection string's user and password (after ops/services.sh: " +
            "eval \"$(ops/services.sh env)\")",
        PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } p => $"the database does not exist ({p.MessageText})",
        PostgresException p => $"the database refused the request ({p.SqlState}: {p.MessageText})",
        _ => $"cannot reach the database: {ex.Message}",
    };
}
