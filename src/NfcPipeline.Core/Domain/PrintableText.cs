namespace NfcPipeline.Core.Domain;

/// <summary>
/// Text as logs, terminals and one-line fields may show it: control characters (a newline forges a log line, an escape
/// drives a terminal), line and paragraph separators (which break the one line) and bidirectional overrides (which
/// reorder what is shown) are unprintable. Names from the share and reasons typed by reviewers follow this one rule.
/// </summary>
public static class PrintableText
{
    public static bool IsUnprintable(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    public static bool HasUnprintable(string text) => text.Any(IsUnprintable);

    /// <summary>The text with each unprintable character as '?'.</summary>
    public static string Printable(string text) => HasUnprintable(text)
        ? string.Concat(text.Select(c => IsUnprintable(c) ? '?' : c)) : text;
}
