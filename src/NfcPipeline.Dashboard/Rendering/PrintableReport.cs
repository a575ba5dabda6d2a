using NfcPipeline.Dashboard.Html;

namespace NfcPipeline.Dashboard.Rendering;

/// <summary>A self-contained patient report (inline style, inline SVG, no script) to print or save as a file.</summary>
public static class PrintableReport
{
    /// <summary>Scripts are off entirely; only the inline stylesheet is allowed.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:";

    private const string Style = """
        body{font-family:sans-serif;font-size:12px;margin:1.5cm;color:#111}h1{font-size:20px}h2{font-size:15px;border-bottom:1px solid #999;margin-top:1.2em}
        table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
        .sha{font-family:monospace;font-size:10px}.rule.holds .verdict{color:#176b2c}.rule.fails .verdict{color:#8a1c1c}
        .charts{display:flex;flex-wrap:wrap;gap:12px}pre{white-space:pre-wrap;font-size:10px}figure{margin:0;break-inside:avoid}
        .notice{border:1px solid #b58900;background:#fdf6e3;padding:4px 8px}.code{color:#555;font-size:10px}
        @media print{a{color:inherit;text-decoration:none}}
        """;

    public static string Render(PatientReport r, DateTime generatedAtUtc) => H.Html($"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Patient {r.Patient.Code} · {r.Patient.StudyExternalId}</title>
        <style>{HtmlText.Trusted(Style)}</style></head>
        <body><h1>Nailfold capillaroscopy report</h1>
        <table class="detail"><tr><th>Study</th><td>{r.Patient.StudyExternalId}</td></tr><tr><th>Patient</th><td>{r.Patient.Code}</td></tr>
        <tr><th>State</th><td>{r.Patient.State}</td></tr><tr><th>Generated</th><td>{generatedAtUtc}</td></tr></table>
        {H.When(PatientReportView.PendingReview(r) is not null, () => H.Html($"""<p class="notice" id="review-pending">{PatientReportView.PendingReview(r)}</p>"""))}
        {PatientReportView.Sections(r, withGallery: false)}
        </body></html>
        """).Value;
}
