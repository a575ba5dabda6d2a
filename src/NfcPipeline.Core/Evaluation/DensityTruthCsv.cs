using System.Globalization;

namespace NfcPipeline.Core.Evaluation;

/// <summary>
/// Density truth as CSV text: <c>image,capillaries_per_mm</c>, or <c>image,count</c> with the field length in mm
/// (density = count / field mm). Keys are image file names without folders, compared case-insensitively.
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
        if (densityColumn < 0 && !(fieldMm > 0)) throw new FormatException("A 'count' column needs the field length in mm (positive).");

        var result = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < lines.Length; i++)
        {
            var cells = Split(lines[i]);
            int column = densityColumn >= 0 ? densityColumn : countColumn;
            if (cells.Length <= Math.Max(imageColumn, column)) throw new FormatException($"Line {i + 1} has too few columns: '{lines[i]}'.");
            if (!double.TryParse(cells[column], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                throw new FormatException($"Line {i + 1}: '{cells[column]}' is not a number.");
            string key = ImageKey(cells[imageColumn]);
            if (!result.TryAdd(key, densityColumn >= 0 ? value : value / fieldMm!.Value))
                throw new FormatException($"Line {i + 1}: image '{key}' appears twice.");
        }
        return result;
    }

    /// <summary>The file name without folders, so "a/b/img1.png" and "img1.png" meet.</summary>
    public static string ImageKey(string image)
    {
        string trimmed = image.Trim();
        int slash = Math.Max(trimmed.LastIndexOf('/'), trimmed.LastIndexOf('\\'));
        return slash >= 0 ? trimmed[(slash + 1)..] : trimmed;
    }

    private static string[] Split(string line) => line.Split(',').Select(c => c.Trim().Trim('"')).ToArray();
}
