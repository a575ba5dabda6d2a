using System.Text;
using Dapper;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>
/// One study id, one folder, one spelling: why a submission cannot take a registered study's id, asked by registration
/// and by the submitters (the CLI, the API) before they publish, so a refused submission is not reported as accepted.
/// </summary>
public static class StudyIdentity
{
    /// <summary>
    /// Why a study id registered from <paramref name="registeredFrom"/> (a share-relative folder, null for a list of
    /// images) cannot take a submission from <paramref name="submittedFrom"/>, or null when it can. The CLI and the API
    /// ask before publishing, so a refused submission is not reported as accepted. A folder that has left the share
    /// (<paramref name="registeredFolderGone"/>: renamed or moved) hands its study to the folder submitted.
    /// </summary>
    public static string? Conflict(string studyId, string? registeredFrom, string? submittedFrom, bool registeredFolderGone = false) =>
        string.Equals(registeredFrom, submittedFrom, StringComparison.Ordinal)
            || registeredFolderGone && registeredFrom is not null && submittedFrom is not null ? null
            : $"Study id '{studyId}' is already registered from {Describe(registeredFrom)}; this submission comes from " +
              $"{Describe(submittedFrom)}. Give one of them its own id (study.json \"study_id\", or the message's StudyId).";

    /// <summary>The id of a study registered from share folder @SourcePath other than @ExternalId (registration, and the
    /// submitters' checks before they publish).</summary>
    public const string OtherStudyOfFolderSql =
        "select external_id from studies where source_path = @SourcePath and external_id <> @ExternalId order by id limit 1";

    /// <summary>
    /// A registered study id other than <paramref name="externalId"/> that differs from it only in Unicode form, or null
    /// (registration, and the submitters' checks before they publish).
    /// </summary>
    public static async Task<string?> LookalikeAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string externalId, CancellationToken ct) =>
        !Ascii.IsValid(externalId)
        && await connection.ExecuteScalarAsync<string>(new CommandDefinition("select current_setting('server_encoding')", null, tx,
            cancellationToken: ct)) == "UTF8"
            ? await connection.ExecuteScalarAsync<string?>(new CommandDefinition("""
                select external_id from studies
                where external_id <> @externalId and normalize(external_id, NFD) = normalize(@externalId::text, NFD)
                limit 1
                """, new { externalId }, tx, cancellationToken: ct))
            : null;

    /// <summary>Why an id that only looks like a registered one is refused.</summary>
    public static string LookalikeConflict(string submittedAs, string registeredAs) =>
        $"Study id '{submittedAs}' differs from the registered study '{registeredAs}' only in its Unicode form (letters composed " +
        "or decomposed, as different systems write them). Submit it as that study, or give it another id.";

    /// <summary>Why a folder registered as one study cannot be registered under another id.</summary>
    public static string FolderConflict(string folder, string registeredAs, string submittedAs) =>
        $"Folder '{folder}' is already registered as study '{registeredAs}'; this submission names it '{submittedAs}'. A folder is " +
        $"one study: give study.json back its study_id '{registeredAs}', or delete study '{registeredAs}' first (nfc delete-study, or the dashboard).";

    private static string Describe(string? sourcePath) => sourcePath is null ? "a list of images" : $"folder '{sourcePath}'";
}
