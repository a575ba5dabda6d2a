using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using NfcPipeline.Storage;

namespace NfcPipeline.Cli.Commands;

/// <summary>Options that several verbs share, so they read the same everywhere.</summary>
internal static class CommonOptions
{
    public static Option<string?> Connection() => new("--connection")
    {
        Description = $"Npgsql connection string. Default: NFC_PG_CONNECTION, else {StorageOptions.LocalDefault}",
    };

    /// <summary>
    /// A number option read with a decimal point only. The default parser takes ',' as a thousands separator, so a
    /// calibration typed "1,9" became 19 µm/px; a comma is refused with a hint instead.
    /// </summary>
    public static Option<double?> Decimal(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (text.Contains(','))
                result.AddError($"{name} takes a decimal point, not a comma: {text.Replace(',', '.')} rather than {text}.");
            // Not "Infinity" or "NaN", which parse: an infinite --field-mm made every truth density 0 and a plausible MAE.
            else if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value))
                return value;
            else
                result.AddError($"{name} takes a number like 1.9, got '{text}'.");
            return null;
        },
    };

    /// <summary>
    /// A time span written hh:mm:ss (or d.hh:mm:ss). The default parser reads a bare "90" as 90 days, so a span typed
    /// in minutes matched nothing, and "5:00" as 5 hours, where mm:ss was meant: both are refused with a hint.
    /// </summary>
    public static Option<TimeSpan> Duration(string name, string description, TimeSpan defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (text.Count(c => c == ':') == 2 && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero)
                return span;
            result.AddError($"{name} takes a duration as hh:mm:ss (or d.hh:mm:ss), such as 01:30:00 for 90 minutes; got '{text}'.");
            return defaultValue;
        },
    };

    /// <summary>The connection string to use; a malformed one is a usage error (<see cref="CliUsageException"/>).</summary>
    public static string ResolveConnection(string? fromOption)
    {
        var resolved = new StorageOptions { ConnectionString = fromOption }.ResolveConnectionString();
        // The data source checks the keywords together (multiplexing without pooling, say) without connecting.
        try { using var _ = Npgsql.NpgsqlDataSource.Create(resolved); }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or InvalidOperationException)
        {
            // Npgsql's reason quotes the keyword it met, which after an unquoted ';' in a password is part of the password.
            throw new CliUsageException(!Output.Secrets.QuotesPassword(resolved, ex.Message)
                ? $"the connection string is malformed: {Output.Secrets.Redact(ex.Message)}"
                : "the connection string is malformed (a misspelt keyword, or a ';' in the password, which must then be quoted: Password='a;b'); " +
                  "Npgsql's reason is not shown, as it may quote part of the password.");
        }
        return resolved;
    }
}

/// <summary>A bad argument found while a verb runs: printed as "nfc VERB: message", exit code 2, no stack trace.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
