using Dapper;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>
/// One transaction-scoped advisory lock per study, keyed by its external id: registration holds it while it replaces
/// the study's images and creates their chunks, and completion takes it before it reads them, so neither sees the other
/// half done.
/// </summary>
internal static class StudyLock
{
    private const string Key = "hashtextextended('nfc.study:' || s.external_id, 0)";

    public static Task ByExternalIdAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string externalId, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition($"select pg_advisory_xact_lock({Key}) from (select @ExternalId::text as external_id) s",
            new { ExternalId = externalId }, tx, cancellationToken: ct));

    public static Task ByStudyAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long studyId, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition($"select pg_advisory_xact_lock({Key}) from studies s where s.id = @StudyId",
            new { StudyId = studyId }, tx, cancellationToken: ct));

    /// <summary>
    /// A new study's lock on its id's Unicode form (NFD), taken after its study's: two look-alike ids ("Zürich-01"
    /// composed and decomposed) registered at once hold different study locks, and each found the other not yet there.
    /// </summary>
    public static Task ByIdFormAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string externalId, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("select pg_advisory_xact_lock(hashtextextended('nfc.study-form:' || @Form::text, 0))",
            new { Form = externalId.Normalize(System.Text.NormalizationForm.FormD) }, tx, cancellationToken: ct));

    /// <summary>
    /// A registration's lock on its share folder, taken after its study's (never the other way round), so two ids
    /// submitted from one folder at once do not both find it free.
    /// </summary>
    public static Task BySourcePathAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sourcePath, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("select pg_advisory_xact_lock(hashtextextended('nfc.folder:' || @SourcePath::text, 0))",
            new { SourcePath = sourcePath }, tx, cancellationToken: ct));

    /// <summary>The lock of the patient's study; none is taken for an unknown patient.</summary>
    public static Task ByPatientAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long patientId, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            $"select pg_advisory_xact_lock({Key}) from patients p join studies s on s.id = p.study_id where p.id = @PatientId",
            new { PatientId = patientId }, tx, cancellationToken: ct));
}
