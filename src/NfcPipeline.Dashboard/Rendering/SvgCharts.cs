using System.Globalization;
using NfcPipeline.Dashboard.Html;

namespace NfcPipeline.Dashboard.Rendering;

/// <summary>Small server-rendered SVG charts: no script and no external assets, so they print and export as is.</summary>
public static class SvgCharts
{
    private const int Width = 520;

    /// <summary>Horizontal bars, one per label, with the value written at the bar's end.</summary>
    public static HtmlText Bars(string id, string title, IReadOnlyList<(string Label, double Value)> bars, string unit)
    {
        if (bars.Count == 0) return H.Html($"<p class=\"empty\" id=\"{id}\">{title}: no data.</p>");
        const int rowHeight = 24, labelWidth = 150, top = 28;
        var height = top + bars.Count * rowHeight + 8;
        var max = Math.Max(bars.Max(b => b.Value), 1e-9);
        var barSpace = Width - labelWidth - 70;
        var rows = H.Each(bars.Select((b, i) => (b, i)), x =>
        {
            var y = top + x.i * rowHeight;
            var w = Math.Max(1, x.b.Value / max * barSpace);
            return H.Html($"""<g class="bar"><text x="{labelWidth - 6}" y="{y + 16}" text-anchor="end">{x.b.Label}</text><rect x="{labelWidth}" y="{y + 4}" width="{F(w)}" height="{rowHeight - 8}" fill="#3b7dd8"><title>{x.b.Label}: {F(x.b.Value)} {unit}</title></rect><text x="{F(labelWidth + w + 4)}" y="{y + 16}">{F(x.b.Value)}</text></g>""");
        });
        return Svg(id, title, height, rows);
    }

    /// <summary>
    /// A histogram of <paramref name="values"/> in bins of <paramref name="binWidth"/>, starting at 0; the width doubles
    /// until the largest value fits in 40 bins (a capped bin count put 600 µm in the bin labelled 195–200).
    /// </summary>
    public static HtmlText Histogram(string id, string title, IReadOnlyList<double> values, double binWidth, string unit)
    {
        var finite = values.Where(double.IsFinite).ToList();
        if (finite.Count == 0) return H.Html($"<p class=\"empty\" id=\"{id}\">{title}: no measurements.</p>");
        const int maxBins = 40;
        while (finite.Max() / binWidth >= maxBins) binWidth *= 2;
        var binCount = (int)Math.Clamp(Math.Floor(Math.Max(finite.Max(), 0) / binWidth) + 1, 1, maxBins);
        var counts = new int[binCount];
        foreach (var v in finite) counts[Math.Clamp((int)Math.Floor(Math.Max(v, 0) / binWidth), 0, binCount - 1)]++;
        const int top = 28, plotHeight = 150, left = 40;
        var barWidth = (Width - left - 10) / (double)binCount;
        var max = counts.Max();
        var bars = H.Each(counts.Select((c, i) => (c, i)), x =>
        {
            var h = x.c == 0 ? 0 : Math.Max(1, x.c * plotHeight / (double)max);
            var from = x.i * binWidth;
            var label = x.i % Math.Max(1, binCount / 8) == 0
                ? H.Html($"""<text x="{F(left + x.i * barWidth)}" y="{top + plotHeight + 16}">{F(from)}</text>""") : HtmlText.Empty;
            return H.Html($"""<rect x="{F(left + x.i * barWidth + 1)}" y="{F(top + plotHeight - h)}" width="{F(Math.Max(1, barWidth - 2))}" height="{F(h)}" fill="#d8823b"><title>{F(from)}–{F(from + binWidth)} {unit}: {x.c}</title></rect>{label}""");
        });
        var axes = H.Html($"""<line x1="{left}" y1="{top + plotHeight}" x2="{Width - 10}" y2="{top + plotHeight}" stroke="#555"/><text x="4" y="{top + 10}">{max}</text><text x="{Width - 10}" y="{top + plotHeight + 30}" text-anchor="end">{unit} (n = {finite.Count})</text>""");
        return Svg(id, title, top + plotHeight + 36, HtmlText.Join([bars, axes]));
    }

    private static HtmlText Svg(string id, string title, int height, HtmlText content) => H.Html($"""
        <figure class="chart"><svg id="{id}" class="chart-svg" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{title}" width="{Width}" height="{height}" viewBox="0 0 {Width} {height}" font-family="sans-serif" font-size="12">
        <title>{title}</title><text x="0" y="16" font-weight="bold">{title}</text>{content}</svg></figure>
        """);

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
}
