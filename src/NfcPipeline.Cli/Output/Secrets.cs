using System.Text.RegularExpressions;

namespace NfcPipeline.Cli.Output;

/// <summary>
/// Passwords kept out of what the CLI prints: a connection string or broker address given where another value was
/// expected (`nfc migrate "Host=db;Password=..."` without --connection) came back whole in the parse error.
/// </summary>
internal static partial class Secrets
{
    /// <summary><paramref name="text"/> with connection-string passwords and URI passwords replaced by "***".</summary>
    public static string Redact(string text) => UriPassword().Replace(KeywordPassword().Replace(text, "$1***"), "$1***@");

    [GeneratedRegex(@"((?:password|pwd)\s*=\s*)(?:""[^""]*""|'[^']*'|[^;'""\s]*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KeywordPassword();

    [GeneratedRegex(@"(://[^:/@\s]*:)[^@\s]*@", RegexOptions.CultureInvariant)]
    private static partial Regex UriPassword();
}
