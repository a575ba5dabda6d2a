using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace NfcPipeline.Dashboard.Html;

/// <summary>Markup that is already safe. Only <see cref="HtmlBuilder"/> and the renderers make these.</summary>
public readonly record struct HtmlText(string Value)
{
    public static readonly HtmlText Empty = new("");
    public override string ToString() => Value;

    /// <summary>Markup from a literal in code. Never call this with data.</summary>
    public static HtmlText Trusted(string markup) => new(markup);

    public static HtmlText Join(IEnumerable<HtmlText> parts) => new(string.Concat(parts.Select(p => p.Value)));
}

/// <summary>
/// Interpolated-string handler that HTML-encodes every hole unless it is <see cref="HtmlText"/>: names from folder
/// names (a patient called &lt;script&gt;…) can only ever reach the page as text.
/// </summary>
[InterpolatedStringHandler]
public ref struct HtmlBuilder
{
    // Every Unicode range passes as is (µm, ≥, accented names); markup characters are always encoded.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);
    private readonly StringBuilder _sb;

    public HtmlBuilder(int literalLength, int formattedCount) => _sb = new StringBuilder(literalLength + formattedCount * 16);

    public void AppendLiteral(string literal) => _sb.Append(literal);
    public void AppendFormatted(HtmlText markup) => _sb.Append(markup.Value);
    public void AppendFormatted(IEnumerable<HtmlText> markup) { foreach (var m in markup) _sb.Append(m.Value); }
    public void AppendFormatted<T>(T value) => _sb.Append(Encoder.Encode(Format(value, null)));
    public void AppendFormatted<T>(T value, string format) => _sb.Append(Encoder.Encode(Format(value, format)));

    public HtmlText ToHtml() => new(_sb.ToString());

    private static string Format<T>(T value, string? format) => value switch
    {
        null => "",
        DateTime t => t.ToUniversalTime().ToString(format ?? "yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(format, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

public static class H
{
    /// <summary>Builds markup from an interpolated string, encoding every hole.</summary>
    public static HtmlText Html(ref HtmlBuilder builder) => builder.ToHtml();

    public static HtmlText Each<T>(IEnumerable<T> items, Func<T, HtmlText> render) => HtmlText.Join(items.Select(render));

    public static HtmlText When(bool condition, Func<HtmlText> render) => condition ? render() : HtmlText.Empty;

    /// <summary>Query-string value, URL-encoded.</summary>
    public static string Q(string? value) => Uri.EscapeDataString(value ?? "");

    public static string Duration(TimeSpan? t) => t is not { } d ? "" : d.TotalSeconds < 60 ? $"{d.TotalSeconds:0.0} s" : d.TotalMinutes < 60 ? $"{d.TotalMinutes:0.0} min" : $"{d.TotalHours:0.0} h";

    public static string Number(double? v, string format = "0.##") => v is { } x && double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "–";
}
