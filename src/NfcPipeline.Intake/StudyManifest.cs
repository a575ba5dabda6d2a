using System.Text.Json;

namespace NfcPipeline.Intake;

/// <summary>
/// A study's <c>study.json</c>: its id, calibration and device, and optional renames of patient and finger folders.
/// Unknown fields are kept in <see cref="Raw"/> so nothing the user wrote is lost.
/// </summary>
public sealed record StudyManifest
{
    public const string FileName = "study.json";

    public string? StudyId { get; init; }
    public double? MicrometresPerPixel { get; init; }
    /// <summary>The device: a name, or the manifest's device object as JSON.</summary>
    public string? Device { get; init; }
    /// <summary>Folder name → patient code.</summary>
    public IReadOnlyDictionary<string, string> Patients { get; init; } = new Dictionary<string, string>();
    /// <summary>Folder name → finger (L2..L5, R2..R5).</summary>
    public IReadOnlyDictionary<string, string> Fingers { get; init; } = new Dictionary<string, string>();
    public string Raw { get; init; } = "{}";

    public static StudyManifest Parse(string json)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException ex) { throw new StudyLayoutException($"{FileName} is not valid JSON: {ex.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new StudyLayoutException($"{FileName} must hold a JSON object.");
            double? umPerPx = null;
            if (root.TryGetProperty("um_per_px", out var scale))
            {
                if (scale.ValueKind != JsonValueKind.Number || !scale.TryGetDouble(out var v) || !(v > 0) || !double.IsFinite(v))
                    throw new StudyLayoutException($"{FileName}: um_per_px must be a positive number, got {scale.GetRawText()}.");
                umPerPx = v;
            }
            string? device = root.TryGetProperty("device", out var d)
                ? d.ValueKind == JsonValueKind.String ? d.GetString() : d.ValueKind == JsonValueKind.Null ? null : d.GetRawText()
                : null;
            return new StudyManifest
            {
                StudyId = root.TryGetProperty("study_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null,
                MicrometresPerPixel = umPerPx,
                Device = device,
                Patients = Map(root, "patients"),
                Fingers = Map(root, "fingers"),
                Raw = root.GetRawText(),
            };
        }
    }

    private static Dictionary<string, string> Map(JsonElement root, string property)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!root.TryGetProperty(property, out var element)) return map;
        if (element.ValueKind != JsonValueKind.Object)
            throw new StudyLayoutException($"{FileName}: '{property}' must map folder names to names, e.g. {{\"folder\": \"name\"}}.");
        foreach (var p in element.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(p.Value.GetString()))
                throw new StudyLayoutException($"{FileName}: '{property}.{p.Name}' must be a non-empty string.");
            map[p.Name] = p.Value.GetString()!;
        }
        return map;
    }
}

/// <summary>A study folder or manifest that cannot be used as it is; the message says what to change.</summary>
public sealed class StudyLayoutException(string message) : Exception(message);
