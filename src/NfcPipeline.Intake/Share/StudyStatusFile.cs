using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NfcPipeline.Intake.Share;

/// <summary>
/// Writes the pipeline's own <c>.nfc-status.json</c> into a study folder, so operators can see what happened to it
/// without the dashboard. The only file the pipeline ever writes in the share: it writes a fresh temporary file and
/// renames it over the old status, so readers never see half a file and no user file is opened for writing.
/// A read-only share (or any other refusal) is not an error: the status is skipped with a debug log.
/// </summary>
public sealed class StudyStatusFile(ILogger<StudyStatusFile>? logger = null)
{
    public const string FileName = ".nfc-status.json";

    /// <summary>The key and value that mark a status file as the pipeline's own, so one it did not write is left alone.</summary>
    public const string WriterKey = "written_by", Writer = "nfcpipeline";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    private readonly ILogger _logger = logger ?? NullLogger<StudyStatusFile>.Instance;

    /// <summary>The status file and its temporary files; the scanner leaves them out of fingerprints.</summary>
    public static bool IsStatusFile(string fileName) => fileName.StartsWith(FileName, StringComparison.Ordinal);

    /// <summary>
    /// Serialises <paramref name="status"/> (snake_case JSON) into the folder; false when it could not, or when the
    /// folder (resolved, and the file as created) lies outside the share <paramref name="realRoot"/>: a study folder
    /// swapped for a link leading out after the scan must not get a file written out there.
    /// </summary>
    public bool Write(string studyFolder, string realRoot, object status)
    {
        string folder;
        try { folder = SharePaths.RealPath(studyFolder); }
        catch (IOException) { return Skipped(studyFolder, "LinkLoop"); }
        if (!SharePaths.IsInside(folder, realRoot)) return Skipped(studyFolder, "OutsideShare");
        // A linked study (Curated-A -> A1) would write into its target, a study of its own maybe, under this one's id.
        try { if (IsLink(studyFolder, folder)) return Skipped(studyFolder, "LinkedFolder"); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return Skipped(studyFolder, ex.GetType().Name); }
        var target = Path.Combine(folder, FileName);
        // A file of that name the pipeline did not write (copied in with the study from elsewhere, the user's own) is
        // the user's: never replaced, and the folder not touched for it (no temporary file made and removed).
        var existing = Existing(target, realRoot);
        if (existing == Found.Foreign) return Skipped(studyFolder, "NotOurStatusFile");
        var temporary = Path.Combine(folder, $"{FileName}.{Guid.NewGuid():N}.tmp");
        bool moved = false;
        try
        {
            var json = JsonSerializer.SerializeToNode(status, status.GetType(), Json)!.AsObject();
            json[WriterKey] = Writer;
            var bytes = JsonSerializer.SerializeToUtf8Bytes(json, Json);
            // CreateNew never follows or truncates something already at the temporary name.
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                // Checked on the created file too: a folder on the way swapped for a link since it was resolved.
                if (!SharePaths.IsOpenFileInside(stream.SafeFileHandle, realRoot)) return Skipped(studyFolder, "OutsideShare");
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            // rename(2) replaces the directory entry itself, never the target of a link placed at the name since. Over our
            // own status only: where there was none, a file the user put there since is not replaced.
            try { File.Move(temporary, target, overwrite: existing == Found.Ours); }
            catch (IOException) when (existing == Found.Absent && File.Exists(target)) { return Skipped(studyFolder, "NotOurStatusFile"); }
            moved = true;
            return true;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            _logger.LogDebug("Status file not written for study folder {StudyFolder}: {Reason}",
                Path.GetFileName(studyFolder.TrimEnd(Path.DirectorySeparatorChar)), ex.GetType().Name);
            return false;
        }
        finally
        {
            if (!moved) TryDelete(temporary);   // our own new file, wherever it landed
        }
    }

    private enum Found { Absent, Ours, Foreign }

    /// <summary>
    /// What is at the status file's name: nothing; the pipeline's own (a status marked <see cref="WriterKey"/>, one of the
    /// three keys written before the mark); or the user's (anything else: a link, which the pipeline never makes, or
    /// JSON that cannot be read as one object).
    /// </summary>
    private static Found Existing(string target, string realRoot)
    {
        try
        {
            var entry = new FileInfo(target);
            if (entry.LinkTarget is not null) return Found.Foreign;
            if (!entry.Exists) return Directory.Exists(target) ? Found.Foreign : Found.Absent;
            using var stream = SharePaths.OpenInside(target, realRoot);
            if (stream.Length > 64 * 1024 || JsonNode.Parse(stream) is not JsonObject json) return Found.Foreign;
            if (json[WriterKey] is JsonValue writer && writer.TryGetValue<string>(out var name) && name == Writer) return Found.Ours;
            return json.Count == 3 && json.ContainsKey("state") && json.ContainsKey("study_id") && json.ContainsKey("submitted_at") ? Found.Ours : Found.Foreign;
        }
        // Any failure to read it as ours (duplicate keys throw from the parsed object, not the parser) leaves it alone.
        catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException)) { return Found.Foreign; }
    }

    /// <summary>Whether the folder itself (not a folder above it, the share's root say) is a link: its resolved path is not its parent's plus its name.</summary>
    private static bool IsLink(string studyFolder, string resolved)
    {
        var full = Path.GetFullPath(studyFolder).TrimEnd(Path.DirectorySeparatorChar);
        return Path.GetDirectoryName(full) is { } parent && resolved != Path.Combine(SharePaths.RealPath(parent), Path.GetFileName(full));
    }

    private bool Skipped(string studyFolder, string reason)
    {
        _logger.LogDebug("Status file not written for study folder {StudyFolder}: {Reason}",
            Path.GetFileName(studyFolder.TrimEnd(Path.DirectorySeparatorChar)), reason);
        return false;
    }

    private static void TryDelete(string ownTemporaryFile)
    {
        try { File.Delete(ownTemporaryFile); }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException) { }
    }
}
