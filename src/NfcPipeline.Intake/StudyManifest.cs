using System.Text;
using System.Text.Json;
using NfcPipeline.Core.Domain;

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
    /// <summary>Folder name (as <see cref="UnicodeNames.Key"/> writes it) → patient code; look up with <see cref="PatientFor"/>.</summary>
    public IReadOnlyDictionary<string, string> Patients { get; init; } = new Dictionary<string, string>();
    /// <summary>Folder name (as <see cref="UnicodeNames.Key"/> writes it) → finger (L2..L5, R2..R5); look up with <see cref="FingerFor"/>.</summary>
    public IReadOnlyDictionary<string, string> Fingers { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The patient code the map gives a folder, or null. Names compare in one Unicode form: macOS writes "ü" decomposed
    /// (NFD), the editor that wrote study.json mostly composed, and the two must match.
    /// </summary>
    public string? PatientFor(string folder) => Patients.GetValueOrDefault(UnicodeNames.Key(folder));

    /// <summary>The finger the map gives a folder, or null; compared as <see cref="PatientFor"/>.</summary>
    public string? FingerFor(string folder) => Fingers.GetValueOrDefault(UnicodeNames.Key(folder));
    /// <summary>The whole manifest as plain JSON (comments and trailing commas, which the parser allows, dropped).</summary>
    public string Raw { get; init; } = "{}";

    /// <summary>A manifest larger than this is refused unread: a study.json is a few hundred bytes.</summary>
    public const long MaxBytes = 1 << 20;

    /// <summary>
    /// Reads <c>study.json</c> of a study folder, or null when there is none. Refused: a link that leads out of the share
    /// (<paramref name="realRoot"/>), a file larger than <see cref="MaxBytes"/>, and an empty one, which is also how a
    /// FIFO, socket or device reports itself (opening a FIFO would block until a writer came).
    /// </summary>
    public static StudyManifest? Read(string studyFolder, string realRoot)
    {
        var path = Path.Combine(studyFolder, FileName);
        // A link whose target is gone, or loops, or a folder so named: refused by name, not read as "no manifest" (the
        // study taken without its calibration, its patient folders' names stored as codes) or as an unreadable file.
        if (LinkProblem(studyFolder, realRoot) is { } linkProblem) throw new StudyLayoutException(linkProblem + ".");
        if (Directory.Exists(path)) throw new StudyLayoutException($"{FileName} is a folder, not a file; refused.");
        if (!File.Exists(path))
        {
            // "Study.json" (a Windows editor's spelling) would be passed over: its calibration and patient codes with it.
            if (MisnamedIn(studyFolder) is { } misnamed)
                throw new StudyLayoutException($"the manifest is named '{misnamed}'; rename it {FileName} (lower case), or its settings are not read.");
            return null;
        }
        try
        {
            var real = SharePaths.RealPath(path);
            if (!SharePaths.IsInside(real, realRoot)) throw new StudyLayoutException($"{FileName} is a link that leads outside the share; refused.");
            var length = new FileInfo(real).Length;
            if (length == 0) throw new StudyLayoutException($"{FileName} is empty, or not a regular file.");
            if (length > MaxBytes) throw new StudyLayoutException($"{FileName} is {length} bytes; at most {MaxBytes} are read.");
            using var stream = SharePaths.OpenInside(real, realRoot);
            // Sized to the file (plus a byte to see it grow): every scan reads every ready study's manifest, and a
            // buffer of the limit each time churned the large-object heap by a megabyte per study.
            var buffer = new byte[length + 1];
            int read = 0, n;
            while (read < buffer.Length && (n = stream.Read(buffer, read, buffer.Length - read)) > 0) read += n;
            if (read > length) throw new StudyLayoutException($"{FileName} changed size while read (a copy still writing it?); refused for now.");
            // A byte order mark (Windows editors write one) is no part of the JSON.
            var text = Encoding.UTF8.GetString(buffer, 0, read);
            return Parse(text.StartsWith('\uFEFF') ? text[1..] : text);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new StudyLayoutException($"{FileName} cannot be read ({ex.GetType().Name}).");
        }
    }

    /// <summary>Why the folder's study.json, a link, is refused (dangling, looping, leading out of the share), or null.</summary>
    public static string? LinkProblem(string studyFolder, string realRoot)
    {
        var path = Path.Combine(studyFolder, FileName);
        return new FileInfo(path).LinkTarget is not null && SharePaths.LinkRefusal(path, realRoot) is { } refusal ? $"{FileName}: {refusal}" : null;
    }

    /// <summary>A file of the folder named <see cref="FileName"/> in other letter cases ("Study.json"), or null.</summary>
    public static string? MisnamedIn(string studyFolder)
    {
        try { return Directory.EnumerateFiles(studyFolder).Select(Path.GetFileName).FirstOrDefault(n => n is not null && n != FileName && IsNamedLike(n)); }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException) { return null; }
    }

    /// <summary>Whether a file name is <see cref="FileName"/> in any letter case.</summary>
    public static bool IsNamedLike(string fileName) => string.Equals(fileName, FileName, StringComparison.OrdinalIgnoreCase);

    public static StudyManifest Parse(string json)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException ex) { throw new StudyLayoutException($"{FileName} is not valid JSON: {ex.Message}"); }
        // System.Text.Json accepts an escape of half a surrogate pair ("\ud83d", a note cut inside an emoji) when it
        // parses, and throws InvalidOperationException only when the string is read.
        try { return FromDocument(doc); }
        catch (InvalidOperationException) { throw new StudyLayoutException($"{FileName} holds a string that is not valid text (half of an escaped surrogate pair, such as \\ud83d)."); }
        finally { doc.Dispose(); }
    }

    private const int MaxFolderNameLength = 255;

    private static StudyManifest FromDocument(JsonDocument doc)
    {
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new StudyLayoutException($"{FileName} must hold a JSON object.");
        double? umPerPx = null;
        if (root.TryGetProperty("um_per_px", out var scale))
        {
            if (scale.ValueKind != JsonValueKind.Number || !scale.TryGetDouble(out var v) || !(v > 0) || !double.IsFinite(v))
                throw new StudyLayoutException($"{FileName}: um_per_px must be a positive number, got {Shown(scale)}.");
            if (!Calibration.IsPlausible(v))
                throw new StudyLayoutException($"{FileName}: um_per_px must be {Calibration.PlausibleRange}, got {Shown(scale)}.");
            umPerPx = v;
        }
        string? device = root.TryGetProperty("device", out var d)
            ? d.ValueKind == JsonValueKind.String ? d.GetString() : d.ValueKind == JsonValueKind.Null ? null : d.GetRawText()
            : null;
        string? studyId = null;
        if (root.TryGetProperty("study_id", out var id) && id.ValueKind != JsonValueKind.Null)
        {
            // A number would otherwise be passed over, and the study registered under its folder's name.
            if (id.ValueKind != JsonValueKind.String)
                throw new StudyLayoutException($"{FileName}: study_id must be a string, got {Shown(id)}.");
            studyId = id.GetString();
        }
        return new StudyManifest
        {
            StudyId = studyId,
            MicrometresPerPixel = umPerPx,
            Device = device,
            Patients = Map(root, "patients"),
            Fingers = Map(root, "fingers"),
            Raw = Plain(root),
        };
    }

    /// <summary>
    /// The manifest re-written as plain JSON: it is stored as jsonb, which takes no comments or trailing commas (the
    /// original text would fail registration after the watcher had accepted the folder), nor a NUL in any string.
    /// </summary>
    private static string Plain(JsonElement root)
    {
        if (HasNul(root)) throw new StudyLayoutException($"{FileName} holds a NUL character (\\u0000), which cannot be stored; remove it.");
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var options = new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var writer = new Utf8JsonWriter(buffer, options)) root.WriteTo(writer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A wrong value as a refusal (logged, shown on the share page) names it: a number as it is, anything else
    /// by its kind only, as a manifest's text may hold names.</summary>
    private static string Shown(JsonElement e) => e.ValueKind switch
    {
        // A number's text, cut short: a megabyte of digits went into every log line and note.
        JsonValueKind.Number => e.GetRawText() is { Length: > 32 } text ? text[..32] + "…" : e.GetRawText(),
        JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null => e.GetRawText(),
        JsonValueKind.String => "a string",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => e.ValueKind.ToString(),
    };

    private static bool HasNul(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString()!.Contains('\0'),
        JsonValueKind.Array => e.EnumerateArray().Any(HasNul),
        JsonValueKind.Object => e.EnumerateObject().Any(p => p.Name.Contains('\0') || HasNul(p.Value)),
        _ => false,
    };

    private static Dictionary<string, string> Map(JsonElement root, string property)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!root.TryGetProperty(property, out var element)) return map;
        if (element.ValueKind != JsonValueKind.Object)
            throw new StudyLayoutException($"{FileName}: '{property}' must map folder names to names, e.g. {{\"folder\": \"name\"}}.");
        var named = new Dictionary<string, int>(StringComparer.Ordinal);
        var folders = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (index, p) in element.EnumerateObject().Index())
        {
            // By position, not by name: the names are patient folders, which refusals (logged) must not carry.
            if (p.Value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(p.Value.GetString()))
                throw new StudyLayoutException($"{FileName}: entry {index + 1} of '{property}' must map to a non-empty string.");
            // Codes are shown and printed as written (nfc analyze, reports): an escape sequence would drive a terminal.
            if (SharePaths.HasUnprintable(p.Value.GetString()!))
                throw new StudyLayoutException($"{FileName}: entry {index + 1} of '{property}' maps to a name with control characters, " +
                    "line separators, bidirectional overrides or invisible characters.");
            // No folder's name is longer (NAME_MAX, 255 bytes), and a key of a million combining marks took the
            // normalisation minutes, on every scan of every worker.
            if (p.Name.Length > MaxFolderNameLength)
                throw new StudyLayoutException($"{FileName}: entry {index + 1} of '{property}' names a folder of more than {MaxFolderNameLength} characters, which no folder is.");
            var folder = UnicodeNames.Key(p.Name);
            if (!folders.TryAdd(folder, index))
                throw new StudyLayoutException($"{FileName}: entries {folders[folder] + 1} and {index + 1} of '{property}' name the same folder " +
                    "(written twice, or in two Unicode forms).");
            var name = p.Value.GetString()!;
            // Written as a folder's name is: "l2" beside a folder L2 is one finger, not two the fast-track counts; a name
            // no spelling reads ("index") is kept as written, and counts as no finger of its own (FieldResult.IsNamedFinger).
            if (property == "fingers") name = FingerNames.Normalise(name) ?? name;
            // Shown as code/finger/file, as listed names are: "P01/L2" would read as a patient and a finger.
            if (SharePaths.ListedNameProblem(name, null) is { } nameProblem)
                throw new StudyLayoutException($"{FileName}: entry {index + 1} of '{property}': {nameProblem.Replace("the patient", property == "patients" ? "the code" : "the name")}.");
            map[folder] = name;
            // Two patient folders under one code would be merged into one patient without a word.
            // Codes apart only in case or Unicode form read as one patient wherever they are shown.
            if (property == "patients" && !named.TryAdd(UnicodeNames.Key(name).ToUpperInvariant(), index))
                throw new StudyLayoutException($"{FileName}: entries {named[UnicodeNames.Key(name).ToUpperInvariant()] + 1} and {index + 1} of 'patients' map to the same patient code" +
                    " (written twice, or apart only in case or Unicode form).");
        }
        return map;
    }
}

/// <summary>A study folder or manifest that cannot be used as it is; the message says what to change.</summary>
public sealed class StudyLayoutException(string message) : Exception(message)
{
    /// <summary>The path names nothing (yet, or any more), rather than something refused.</summary>
    public bool Missing { get; init; }
}
