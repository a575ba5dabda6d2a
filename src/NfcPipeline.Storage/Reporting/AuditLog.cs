using System.Text.Json;
using Dapper;
using Npgsql;

namespace NfcPipeline.Storage.Reporting;

/// <summary>One operator action as audit_log records it (migration 0023).</summary>
public sealed class AuditEntry
{
    public long Id { get; init; }
    public DateTime At { get; init; }
    public string Actor { get; init; } = "";
    public string Action { get; init; } = "";
    public string Subject { get; init; } = "";
    public string Details { get; init; } = "{}";
}

/// <summary>
/// The audit trail of operator actions that remove or redo work, or change which fields a patient's results count. Written in the action's own transaction, so an
/// action is recorded exactly when it takes effect.
/// </summary>
public static class AuditLog
{
    public const string DeleteStudy = "delete_study";
    public const string RequeueJobs = "requeue_jobs";
    public const string DeleteJobs = "delete_jobs";
    public const string ExcludeField = "exclude_field";
    public const string IncludeField = "include_field";

    /// <summary>Who runs the CLI: its OS user and host (no patient data).</summary>
    public static string CliActor => $"cli:{Environment.UserName}@{Environment.MachineName}";

    internal static Task RecordAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string actor, string action, string subject, object details,
        CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        return connection.ExecuteAsync(new CommandDefinition("""
            insert into audit_log (actor, action, subject, details) values (@Actor, @Action, @Subject, @Details::jsonb)
            """, new { Actor = actor, Action = action, Subject = subject, Details = JsonSerializer.Serialize(details) }, tx, cancellationToken: ct));
    }

    /// <summary>The latest entries, newest first.</summary>
    public static async Task<IReadOnlyList<AuditEntry>> LatestAsync(NpgsqlDataSource dataSource, int limit, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<AuditEntry>(new CommandDefinition("""
            select id, at, actor, action, subject, details::text as details from audit_log order by at desc, id desc limit @limit
            """, new { limit }, cancellationToken: ct))).ToList();
    }
}
