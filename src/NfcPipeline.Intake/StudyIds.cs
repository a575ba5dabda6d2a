namespace NfcPipeline.Intake;

/// <summary>What may name a study: the same rule for the share watcher, messages, the CLI and the HTTP API.</summary>
public static class StudyIds
{
    public const int MaxLength = 200;

    /// <summary>
    /// Why <paramref name="id"/> cannot name a study, or null. 1–200 printable characters (no control characters, line
    /// separators or bidirectional overrides: an id is logged and shown as it is), no '/' or '\', not '.' or
    /// '..', no space at either end: an id is one segment of the dashboard's and the API's URLs (/api/studies/{id}),
    /// which clients normalise ('..' would name the parent) and forms trim. The reason does not quote the id: a refused
    /// one (a manifest's study_id) is logged and shown on the share page, and may hold a name.
    /// </summary>
    public static string? Problem(string? id) =>
        string.IsNullOrWhiteSpace(id) || id.Length > MaxLength || SharePaths.HasUnprintable(id)
            ? $"The study id must be 1–{MaxLength} printable characters."
            : id.IndexOfAny(['/', '\\']) >= 0 ? "The study id contains '/' or '\\'; it must be a single name."
            : id is "." or ".." ? "The study id cannot be '.' or '..'."
            : char.IsWhiteSpace(id[0]) || char.IsWhiteSpace(id[^1]) ? "The study id starts or ends with a space." : null;
}
