using System.Globalization;
using System.Text.Json;
using NfcPipeline.Dashboard.Html;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Rendering;

/// <summary>Everything one patient report shows, loaded once.</summary>
public sealed record PatientReport(
    PatientHeader Patient, IReadOnlyList<PatientMetricsRow> AllModels, PatientMetricsRow? Metrics,
    IReadOnlyList<CapillaryDiameters> Diameters, IReadOnlyList<ImageRow> Images)
{
    /// <summary>The most images a report lists (its gallery and provenance table); a patient with more is said to have them.</summary>
    public const int MaxListedImages = 5000;

    /// <summary>More images than the report lists (<see cref="MaxListedImages"/>): the first ones only are shown.</summary>
    public bool ImagesCut { get; init; }

    /// <summary>When a field was last excluded or included at review, if after the shown result was computed (it does not show that yet).</summary>
    public DateTime? ReviewPendingSince =>
        Metrics is { } m && Images.Max(i => i.QcChangedAt) is { } changed && changed > m.ComputedAt ? changed : null;

    public static async Task<PatientReport?> LoadAsync(ReportingQueries queries, long patientId, long? modelId, CancellationToken ct,
        int maxImages = MaxListedImages)
    {
        var patient = await queries.PatientAsync(patientId, ct);
        if (patient is null) return null;
        var all = await queries.PatientMetricsAsync(patientId, ct);
        var metrics = all.FirstOrDefault(m => m.ModelId == modelId) ?? all.FirstOrDefault();
        var diameters = metrics is null ? [] : await queries.PatientDiametersAsync(patientId, metrics.ModelId, ct);
        // One more than listed, to tell a patient of exactly the limit from one cut at it.
        var images = await queries.ImagesAsync(patient.StudyId, patientId, metrics?.ModelId, limit: maxImages + 1, ct: ct);
        return new PatientReport(patient, all, metrics, diameters, images.Take(maxImages).ToList()) { ImagesCut = images.Count > maxImages };
    }
}

/// <summary>The patient report's sections, shared by the dashboard page, the printable export and `nfc report --html`.</summary>
public static class PatientReportView
{
    /// <summary>
    /// What every report says first: the figures are a research tool's, not a diagnosis, and which model made them, with
    /// what its export says it was trained on (the reference model: simulated images only).
    /// </summary>
    public static string ResearchUseNotice(PatientMetricsRow? m) =>
        "Research use only. These figures were computed automatically from the images" +
        (m is null ? "" : $" by the model {m.ModelName} {m.ModelVersion}, trained on {m.ModelTrainingData ?? "data its export does not state"}") +
        "; check the model's card for what it was validated on before relying on them. The pattern follows the EULAR " +
        "fast-track rules from those figures and is not a diagnosis: check the images (and the failed or ungradable fields).";

    /// <summary>Said where the images are listed when the patient has more than a report lists.</summary>
    private static HtmlText ImagesCutNote(PatientReport r) => H.When(r.ImagesCut, () => H.Html(
        $"<p class=\"note images-cut\">Only the first {r.Images.Count.ToString("N0", CultureInfo.InvariantCulture)} of this patient's images are listed here (the figures count them all): results.csv and v_image_results list every one.</p>"));

    /// <summary>Why the shown figures may not count a review yet, or null: a field excluded or included after they were computed.</summary>
    public static string? PendingReview(PatientReport r) => r.ReviewPendingSince is { } changed
        ? $"A field was excluded or included at review ({changed:u}) after these results were computed ({r.Metrics!.ComputedAt:u}): they do not show it yet."
        : null;

    /// <summary>
    /// The diameter histograms are drawn from the fields as they are now, the tables from the stored result: while a
    /// review is pending or the patient is analysed again, the two can count different loops (or the histograms none).
    /// </summary>
    public static string? ChartsOutOfStep(PatientReport r) =>
        r.Patient.State == "processing" ? "The patient is being analysed again: the diameter histograms count only the fields done so far, the tables the result before."
        : r.ReviewPendingSince is not null ? "The diameter histograms count the fields as reviewed now; the tables, the result computed before the review."
        : null;

    /// <param name="review">The review controls under each field (operators' only); none in the printable report.</param>
    public static HtmlText Sections(PatientReport r, bool withGallery, Func<ImageRow, HtmlText>? review = null)
    {
        var m = r.Metrics;
        var notice = H.Html($"<p class=\"notice\" id=\"research-use\">{ResearchUseNotice(m)}</p>");
        if (m is null)
            return H.Html($"{notice}<p class=\"empty\">No results for this patient yet (state: {r.Patient.State}).</p>{H.When(withGallery, () => Gallery(r, review))}");
        return H.Html($"""
            {notice}
            <section id="metrics"><h2>Metrics</h2>{MetricsTable(m)}</section>
            <section id="pattern"><h2>Fast-track pattern</h2>{RuleTrace(m)}</section>
            <section id="charts"><h2>Charts</h2>{H.When(ChartsOutOfStep(r) is not null, () => H.Html($"<p class=\"note\" id=\"charts-out-of-step\">{ChartsOutOfStep(r)}</p>"))}<div class="charts">
              {SvgCharts.Bars("chart-morphology", "Morphology (instances per class, gradable fields, hemorrhages and blurred included)", Morphology(m.Morphology), "instances")}
              {SvgCharts.Histogram("chart-apical", "Apical diameter (µm)", r.Diameters.Select(d => d.ApicalUm ?? double.NaN).ToList(), 5, "µm")}
              {SvgCharts.Histogram("chart-arterial", "Arterial limb diameter (µm)", r.Diameters.Select(d => d.ArterialUm ?? double.NaN).ToList(), 2, "µm")}
              {SvgCharts.Histogram("chart-venous", "Venous limb diameter (µm)", r.Diameters.Select(d => d.VenousUm ?? double.NaN).ToList(), 2, "µm")}
              {SvgCharts.Bars("chart-density", "Density per finger (capillaries/mm)", PerFinger(m.PerFinger), "/mm")}
            </div></section>
            {H.When(withGallery, () => Gallery(r, review))}
            <section id="provenance"><h2>Provenance</h2>
              <table class="detail"><tr><th>Model</th><td>{m.ModelName} {m.ModelVersion}</td></tr>
              <tr><th>Model SHA-256</th><td class="sha" id="model-sha">{m.ModelSha256}</td></tr>
              <tr><th>Computed</th><td>{m.ComputedAt}</td></tr>
              <tr><th>µm per pixel (measured at)</th><td id="um-per-px">{H.Number(m.UmPerPx, "0.###")}{(r.Patient.StudyUmPerPx is null && m.UmPerPx is not null ? " (the worker's default: the study gives none)" : "")}</td></tr>
              <tr><th>Fields without a result</th><td id="failed-fields">{H.Number(m.FailedFields, "0")}</td></tr></table>
              <h3>Settings</h3><pre id="settings">{Pretty(m.Settings)}</pre>
              <h3>Images</h3>{ImagesCutNote(r)}<table class="images"><thead><tr><th>Finger</th><th>Field</th><th>Path</th><th>State</th><th>SHA-256</th></tr></thead><tbody>
              {H.Each(r.Images, i => H.Html($"<tr><td>{i.Finger}</td><td>{i.Field}</td><td>{i.RelPath}</td><td>{i.State}{H.When(i.QcExclusion is not null, () => H.Html($"; excluded at review: {i.QcExclusion}"))}</td><td class=\"sha\">{Convert.ToHexStringLower(i.Sha256)}</td></tr>"))}
              </tbody></table>
            </section>
            """);
    }

    public static HtmlText MetricsTable(PatientMetricsRow m)
    {
        using var d = JsonDocument.Parse(m.Diameters);
        var diameterRows = d.RootElement.ValueKind != JsonValueKind.Object ? HtmlText.Empty : H.Each(d.RootElement.EnumerateObject().ToList(), kv => H.Html(
            $"<tr><th>{kv.Name} diameter (µm)</th><td>n {Stat(kv.Value, "n")} · mean {Stat(kv.Value, "mean")} ± {Stat(kv.Value, "sd")} · median {Stat(kv.Value, "median")} · p10–p90 {Stat(kv.Value, "p10")}–{Stat(kv.Value, "p90")} · max {Stat(kv.Value, "max")}</td></tr>"));
        return H.Html($"""
            <table class="detail metrics">
              <tr><th>Pattern</th><td class="pattern">{PatternLabel(m.Pattern)}</td></tr>
              <tr><th>Density (capillaries/mm)</th><td>mean {H.Number(m.DensityMean)} · median {H.Number(m.DensityMedian)} · SD {H.Number(m.DensitySd)}</td></tr>
              <tr><th>Fields</th><td>{m.GradableFields} gradable, {m.UngradableFields} ungradable, {(m.FailedFields is { } failed ? failed.ToString(CultureInfo.InvariantCulture) : "?")} without a result (failed)</td></tr>
              <tr><th>Calibration</th><td>{(m.UmPerPx is { } um ? $"{um.ToString("0.###", CultureInfo.InvariantCulture)} µm/px" : "more than one, or not recorded")}</td></tr>
              <tr><th>Loops (gradable fields)</th><td>{m.CapillaryCount}</td></tr>
              <tr><th>Dilated / giant</th><td>{m.DilatedCount} / {m.GiantCount}</td></tr>
              <tr><th>Abnormal shapes</th><td>{m.AbnormalCount}</td></tr>
              <tr><th>Hemorrhages</th><td>{m.HemorrhageCount}</td></tr>
              {diameterRows}
            </table>
            """);
    }

    /// <summary>The pattern in words, its stored code beside it (the code is what SQL and the CSV hold).</summary>
    public static HtmlText PatternLabel(string? code)
    {
        string? words = code switch
        {
            "non_scleroderma" => "Non-scleroderma pattern",
            "scleroderma_early" => "Scleroderma pattern, early",
            "scleroderma_active" => "Scleroderma pattern, active",
            "scleroderma_late" => "Scleroderma pattern, late",
            "scleroderma" => "Scleroderma pattern, stage not determined",
            "indeterminate" => "Indeterminate (the fast-track did not call it)",
            _ => null,
        };
        return words is null ? H.Html($"{code}") : H.Html($"{words} <span class=\"code\">({code})</span>");
    }

    public static HtmlText RuleTrace(PatientMetricsRow m)
    {
        using var doc = JsonDocument.Parse(m.RuleTrace);
        var root = doc.RootElement;
        string? S(string name) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var v) ? Text(v) : null;
        var inputs = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("inputs", out var i) && i.ValueKind == JsonValueKind.Object
            ? H.Each(i.EnumerateObject().ToList(), kv => H.Html($"<tr><th>{kv.Name}</th><td>{Text(kv.Value)}</td></tr>")) : HtmlText.Empty;
        var steps = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("trace", out var t) && t.ValueKind == JsonValueKind.Array
            ? H.Each(t.EnumerateArray().ToList(), step =>
            {
                var holds = step.TryGetProperty("holds", out var h) && h.ValueKind == JsonValueKind.True;
                var conditions = step.TryGetProperty("conditions", out var c) && c.ValueKind == JsonValueKind.Array
                    ? H.Each(c.EnumerateArray().ToList(), cond => H.Html($"<li>{Prop(cond, "text") ?? Text(cond)}</li>")) : HtmlText.Empty;
                return H.Html($"""<li class="rule {(holds ? "holds" : "fails")}"><span class="verdict">{(holds ? "✓ holds" : "✗ does not hold")}</span> <strong>{Prop(step, "rule")}</strong>: {Prop(step, "text")}<ul>{conditions}</ul></li>""");
            }) : HtmlText.Empty;
        return H.Html($"""
            <p class="pattern-line"><strong class="pattern">{S("pattern") ?? m.Pattern}</strong>{H.When(S("sub_pattern") is { Length: > 0 }, () => H.Html($" ({S("sub_pattern")})"))}: {S("summary")}</p>
            <h3>Inputs</h3><table class="detail">{inputs}</table>
            <h3>Rule trace</h3><ol class="trace">{steps}</ol>
            """);
    }

    public static HtmlText Gallery(PatientReport r, Func<ImageRow, HtmlText>? review = null)
    {
        var model = r.Metrics is null ? "" : $"&model={r.Metrics.ModelId}";
        return H.Html($"""
            <section id="gallery"><h2>Images</h2>{ImagesCutNote(r)}
            <p class="legend">Overlays: green normal, orange abnormal, red hemorrhage, grey ungradable; yellow outline and box = distal row; magenta = giant, violet = dilated (outline and box); cyan dots = keypoints the measurements used (confidence at or above the analysis's gate, 0.08 by default).</p>
            <div class="gallery">{H.Each(r.Images, i => H.Html($"""
                <figure class="field image-{i.State}"><a href="/images/{i.Id}/overlay.png?{model.TrimStart('&')}"><img class="overlay" src="/images/{i.Id}/overlay.png?width=480{model}" alt="{i.Finger} {i.Field} with overlays" width="480" loading="lazy"></a>
                <figcaption>{i.Finger} · {i.Field} · {i.State}{H.When(i.DensityPerMm is not null, () => H.Html($" · {Layout.FieldDensity(i, "/mm")}"))}{H.When(i.Error is not null, () => H.Html($" · {i.Error}"))}{H.When(i.QcExclusion is not null, () => H.Html($"<br><span class=\"qc-exclusion\">Excluded at review: {i.QcExclusion} ({i.QcExcludedBy})</span>"))}</figcaption>{review?.Invoke(i) ?? HtmlText.Empty}</figure>
                """))}</div></section>
            """);
    }

    public static IReadOnlyList<(string, double)> Morphology(string json)
    {
        using var doc = JsonDocument.Parse(json);
        foreach (var group in new[] { "by_class", "by_category" })
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(group, out var g) && g.ValueKind == JsonValueKind.Object)
            {
                var bars = g.EnumerateObject().Select(e => (e.Name, Number(e.Value, "count"))).Where(b => b.Item2 is not null).Select(b => (b.Name, b.Item2!.Value)).ToList();
                if (bars.Count > 0) return bars;
            }
        return [];
    }

    public static IReadOnlyList<(string, double)> PerFinger(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) return [];
        return doc.RootElement.EnumerateObject().Select(f => (f.Name, Number(f.Value, "density_mean")))
            .Where(f => f.Item2 is not null).Select(f => (f.Name, f.Item2!.Value)).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
    }

    private static double? Number(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static string Stat(JsonElement e, string name) => H.Number(Number(e, name), name == "n" ? "0" : "0.#");

    private static string? Prop(JsonElement e, string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? Text(v) : null;

    private static string Text(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString() ?? "",
        JsonValueKind.Number => H.Number(v.GetDouble(), "0.###"),
        JsonValueKind.Object => string.Join(", ", v.EnumerateObject().Select(p => $"{p.Name} = {Text(p.Value)}")),
        JsonValueKind.Array => string.Join(", ", v.EnumerateArray().Select(Text)),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => "",
    };

    private static string Pretty(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true });
    }
}
