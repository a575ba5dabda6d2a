using Dapper;
using NfcPipeline.Storage.Pipeline;
using Npgsql;

namespace NfcPipeline.Storage.Reporting;

/// <summary>What deleting a study did (or why it did not).</summary>
public enum StudyDeletion { Deleted, NotFound, StillProcessing }

public sealed record StudyDeletionResult(StudyDeletion Outcome, int Patients = 0, int Images = 0);

/// <summary>Operator actions on whole studies (the dashboard, the API and `nfc delete-study`).</summary>
public sealed class StudyAdmin(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Removes a study that is not processing: its patients, images, patient results and jobs. Image and capillary
    /// results stay, keyed by content (another study may hold the same files; a resubmission reuses them), and the files
    /// in the share are never touched. A processing study is refused: its chunks still run against it. The deletion is
    /// recorded in audit_log under <paramref name="actor"/>.
    /// </summary>
    public async Task<StudyDeletionResult> DeleteAsync(string externalId, string actor, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // As registration and completion: neither sees the study half gone.
        await StudyLock.ByExternalIdAsync(c, tx, externalId, ct);
        var study = await c.QuerySingleOrDefaultAsync<(long Id, string State)?>(new CommandDefinition(
            "select id, state from studies where external_id = @externalId for update", new { externalId }, tx, cancellationToken: ct));
        if (study is not { } s) return new(StudyDeletion.NotFound);
        if (s.State == "processing") return new(StudyDeletion.StillProcessing);
        var (patients, images) = await c.QuerySingleAsync<(int, int)>(new CommandDefinition("""
            select (select count(*) from patients where study_id = @Id)::int, (select count(*) from images where study_id = @Id)::int
            """, new { s.Id }, tx, cancellationToken: ct));
        // Patients, images, patient results and jobs go with it (on delete cascade).
        await c.ExecuteAsync(new CommandDefinition("delete from studies where id = @Id", new { s.Id }, tx, cancellationToken: ct));
        await AuditLog.RecordAsync(c, tx, actor, AuditLog.DeleteStudy, externalId,
            new { study_db_id = s.Id, state = s.State, patients, images }, ct);
        await tx.CommitAsync(ct);
        return new(StudyDeletion.Deleted, patients, images);
    }
}
