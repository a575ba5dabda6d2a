using Npgsql;

namespace NfcPipeline.Storage.Migrations;

/// <summary>
/// A query that names a table, column or function the database lacks: its schema is older than this build (the worker
/// migrates at start-up; a dashboard or CLI upgraded first meets the old schema), not a defect of the query.
/// </summary>
public static class SchemaBehind
{
    public static bool Is(Exception? error) => error switch
    {
        PostgresException { SqlState: PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedColumn or PostgresErrorCodes.UndefinedFunction } => true,
        null => false,
        _ => Is(error.InnerException),
    };
}
