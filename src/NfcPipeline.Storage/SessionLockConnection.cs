using Npgsql;

namespace NfcPipeline.Storage;

/// <summary>
/// A connection for a session-level advisory lock, outside the pool: the lock is the session's, and a pooled
/// connection whose unlock failed without breaking it would go back to the pool still holding it until reused.
/// Closed, it releases the lock.
/// </summary>
internal static class SessionLockConnection
{
    public static NpgsqlConnection Create(string connectionString) =>
        new(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
}
