using System.Text;

namespace NfcPipeline.Intake;

/// <summary>
/// Names compared in one Unicode form. macOS writes "ü" as "u" + a combining diaeresis (NFD), most editors as one letter
/// (NFC); a folder and the study.json key naming it must match either way. string.Normalize cannot do this here: the
/// apps run with invariant globalization, where it leaves non-ASCII text as it is. The tables (UnicodeTables.cs) hold the
/// Basic Multilingual Plane's canonical decompositions and combining classes; Hangul syllables are decomposed arithmetically.
/// </summary>
public static class UnicodeNames
{
    private static readonly Dictionary<char, string> Decompositions = UnicodeTables.Decompositions
        .Split(';', StringSplitOptions.RemoveEmptyEntries).ToDictionary(e => e[0], e => e[1..]);

    private static readonly Dictionary<char, int> CombiningClasses = Enumerable.Range(0, UnicodeTables.CombiningClasses.Length / 2)
        .ToDictionary(i => UnicodeTables.CombiningClasses[2 * i], i => (int)UnicodeTables.CombiningClasses[2 * i + 1]);

    /// <summary>The name fully decomposed, marks in canonical order (NFD, within the Basic Multilingual Plane): equal keys, one name.</summary>
    public static string Key(string name)
    {
        if (Ascii.IsValid(name)) return name;
        var key = new StringBuilder(name.Length + 8);
        foreach (var c in name)
        {
            if (Decompositions.TryGetValue(c, out var parts)) key.Append(parts);
            else if (c is >= HangulFirst and <= HangulLast) AppendHangul(key, c);
            else key.Append(c);
        }
        OrderMarks(key);
        return key.ToString();
    }

    private const char HangulFirst = '\uAC00', HangulLast = '\uD7A3';

    private static void AppendHangul(StringBuilder key, char syllable)
    {
        int index = syllable - HangulFirst;
        key.Append((char)(0x1100 + index / (21 * 28))).Append((char)(0x1161 + index % (21 * 28) / 28));
        if (index % 28 != 0) key.Append((char)(0x11A7 + index % 28));
    }

    /// <summary>Canonical ordering: each run of combining marks sorted by class, stably (a letter written as "ê" then a dot below).</summary>
    private static void OrderMarks(StringBuilder key)
    {
        for (int i = 1; i < key.Length; i++)
        {
            int cls = CombiningClasses.GetValueOrDefault(key[i]);
            if (cls == 0) continue;
            for (int j = i; j > 0 && CombiningClasses.GetValueOrDefault(key[j - 1]) is var before && before > cls; j--)
                (key[j - 1], key[j]) = (key[j], key[j - 1]);
        }
    }
}
