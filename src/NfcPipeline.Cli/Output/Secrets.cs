using System.Text.RegularExpressions;

namespace NfcPipeline.Cli.Output;

/// <summary>
/// Passwords kept out of what the CLI prints: a connection string or broker address given where another value was
/// expected (`nfc migrate "Host=db;Password=..."` without --connection) came back whole in the parse error.
/// </summary>
internal static partial class Secrets
{
    /// <summary><paramref name="text"/> with connection-string passwords (to the next ';', quotes doubled inside) and URI passwords as "***".</summary>
    public static string Redact(string text) => UriPassword().Replace(KeywordPassword().Replace(text, "$1***"), "$1***@");

    /// <summary>
    /// A parse error's message: a token that names a password keyword is hidden from it on (an unquoted ';' in the
    /// password would leave the rest of it looking like another keyword).
    /// </summary>
    public static string RedactToken(string message) => TokenFromPassword().Replace(Redact(message), "$1***'");

    /// <summary>
    /// Whether <paramref name="connectionString"/> has a password and Npgsql's <paramref name="reason"/> names a piece of
    /// the string from that password on (the pieces between ';' and '=': a keyword it met there may be part of it).
    /// </summary>
    public static bool QuotesPassword(string connectionString, string reason)
    {
        var keyword = KeywordPassword().Match(connectionString);
        if (!keyword.Success) return false;
        return connectionString[(keyword.Index + keyword.Groups[1].Length)..].Split(';', '=')
            .Any(piece => piece.Trim().Length >= 2 && reason.Contains(piece.Trim(), StringComparison.OrdinalIgnoreCase));
    }

    [GeneratedRegex(@"((?:password|pwd|psw)\s*=\s*)(?:""(?:[^""]|"""")*""|'(?:[^']|'')*'|[^;]*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KeywordPassword();

    // To the last '@' before the path: a password may hold an unencoded '@'.
    [GeneratedRegex(@"(://[^:/@\s]*:)[^/\s]*@", RegexOptions.CultureInvariant)]
    private static partial Regex UriPassword();

    [GeneratedRegex(@"((?:password|pwd|psw)\s*=)[^']*'", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TokenFromPassword();
}
