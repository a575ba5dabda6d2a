namespace NfcPipeline.Core.Domain;

/// <summary>
/// Text as logs, terminals and one-line fields may show it: control characters (a newline forges a log line, an escape
/// drives a terminal), line and paragraph separators (which break the one line), bidirectional overrides and marks
/// (which reorder what is shown) and invisible characters (a zero-width space makes "P01" and "P01\u200B" two names
/// that look one) are unprintable. The joiners U+200C and U+200D stay, as Persian and Indic names are spelt with them,
/// and so does U+180E between two Mongolian letters, where Mongolian spelling needs it (elsewhere it is invisible).
/// Names from the share and reasons typed by reviewers follow this one rule.
/// </summary>
public static class PrintableText
{
    public static bool IsUnprintable(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069')
            or '\u200E' or '\u200F' or '\u061C'   // left-to-right, right-to-left and Arabic letter marks
            or '\u200B' or (>= '\u2060' and <= '\u2064') or '\uFEFF' or '\u00AD';   // zero-width and invisible

    public static bool HasUnprintable(string text)
    {
        for (int i = 0; i < text.Length; i++)
            if (UnprintableAt(text, i)) return true;
        return false;
    }

    /// <summary>The text with each unprintable character as '?'.</summary>
    public static string Printable(string text) => HasUnprintable(text)
        ? string.Concat(text.Select((c, i) => UnprintableAt(text, i) ? '?' : c)) : text;

    private static bool UnprintableAt(string text, int i) =>
        IsUnprintable(text[i]) || text[i] == '\u180E' && !(i > 0 && IsMongolianLetter(text[i - 1]) && i + 1 < text.Length && IsMongolianLetter(text[i + 1]));

    private static bool IsMongolianLetter(char c) => c is >= '\u1820' and <= '\u18AA';
}
