using System.Globalization;

namespace NfcPipeline.Core.Evaluation;

/// <summary>
/// Density truth as CSV text: <c>image,capillaries_per_mm</c>, or <c>image,count</c> with the field length in mm
/// (density = count / field mm). Keys are image paths, compared case-insensitively; a path matches the one whose
/// ending it is at a folder boundary (<see cref="TryFind"/>).
/// </summary>
public static class DensityTruthCsv
{
    public static IReadOnlyDictionary<string, double> Parse(string csv, double? fieldMm = null)
    {
        var lines = csv.Split('\n').Select(l => l.Trim('\r', ' ', '\t')).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        if (lines.Length == 0) throw new FormatException("The density CSV is empty.");
        var header = Split(lines[0]).Select(h => h.ToLowerInvariant()).ToArray();
        int imageColumn = System.Array.FindIndex(header, h => h is "image" or "file_name" or "filename");
        int densityColumn = System.Array.IndexOf(header, "capillaries_per_mm");
        int countColumn = System.Array.IndexOf(header, "count");
        if (imageColumn < 0) throw new FormatException("The density CSV needs an 'image' column.");
        if (densityColumn < 0 && countColumn < 0) throw new FormatException("The density CSV needs a 'capillaries_per_mm' or a 'count' column.");
        // A field length that is missing or out of place is the caller's mistake, not the file's.
        if (densityColumn < 0 && !(fieldMm > 0)) throw new ArgumentException("A 'count' column needs the field length in mm (positive).");
        if (densityColumn >= 0 && fieldMm is not null)
            throw new ArgumentException("A field length was given, but the 'capillaries_per_mm' column needs none (it is for a 'count' column).");
        if (lines.Length == 1) throw new FormatException("The density CSV lists no images, only its header.");

        var result = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < lines.Length; i++)
        {
            var cells = Split(lines[i]);
            int column = densityColumn >= 0 ? densityColumn : countColumn;
            if (cells.Length <= Math.Max(imageColumn, column)) throw new FormatException($"Line {i + 1} has too few columns: '{lines[i]}'.");
            if (!double.TryParse(cells[column], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                throw new FormatException($"Line {i + 1}: '{cells[column]}' is not a number.");
            if (value < 0) throw new FormatException($"Line {i + 1}: {cells[column]} is below 0; a density or count cannot be.");
            string key = ImageKey(cells[imageColumn]);
            double density = densityColumn >= 0 ? value : value / fieldMm!.Value;
            // A huge count over a short field overflowed to infinity, which the JSON report then could not write.
            if (!double.IsFinite(density)) throw new FormatException($"Line {i + 1}: {cells[column]} over {fieldMm} mm is too large a density.");
            if (!result.TryAdd(key, density))
                throw new FormatException($"Line {i + 1}: image '{key}' appears twice.");
        }
        return result;
    }

    /// <summary>The image path normalised for matching: forward slashes, no leading "./" or "/".</summary>
    public static string ImageKey(string image)
    {
        string key = image.Trim().Replace('\\', '/');
        while (key.StartsWith("./", StringComparison.Ordinal)) key = key[2..];
        return key.TrimStart('/');
    }

    /// <summary>
    /// Finds an image by key: the same relative path, else the one entry whose path ends with the other's at a folder
    /// boundary ("study/p1/a.png" meets "p1/a.png"). Basenames alone never match when several images share one.
    /// </summary>
    public static bool TryFind<TValue>(IReadOnlyDictionary<string, TValue> byKey, string image, out TValue value)
    {
        var key = ImageKey(image);
        if (byKey.TryGetValue(key, out value!)) return true;
        var candidates = byKey.Where(p => IsSuffix(p.Key, key) || IsSuffix(key, p.Key)).Take(2).ToList();
        if (candidates.Count == 1) { value = candidates[0].Value; return true; }
        value = default!;
        return false;
    }

    private static bool IsSuffix(string longer, string shorter) =>
        longer.Length > shorter.Length && longer.EndsWith(shorter, StringComparison.OrdinalIgnoreCase) && longer[longer.Length - shorter.Length - 1] == '/';

    /// <summary>
    /// The cells of one line, as CSV quotes them: a quoted cell may hold commas ("P01/a,b.png") and doubled quotes; an
    /// unquoted one is trimmed.
    /// </summary>
    private static string[] Split(string line)
    {
        var cells = new List<string>();
        var cell = new System.Text.StringBuilder();
        bool quoted = false, wasQuoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c != '"') cell.Append(c);
                else if (i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"' && cell.ToString().Trim().Length == 0) { quoted = wasQuoted = true; cell.Clear(); }
            else if (c == ',') { cells.Add(wasQuoted ? cell.ToString() : cell.ToString().Trim()); cell.Clear(); wasQuoted = false; }
            else if (!wasQuoted || !char.IsWhiteSpace(c)) cell.Append(c);
        }
        if (quoted) throw new FormatException($"A quoted cell is not closed: '{line}'.");
        cells.Add(wasQuoted ? cell.ToString() : cell.ToString().Trim());
        return [.. cells];
    }
}
