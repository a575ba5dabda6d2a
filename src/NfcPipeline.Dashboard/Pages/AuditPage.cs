using NfcPipeline.Dashboard.Html;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Pages;

/// <summary>GET /audit: who deleted studies and requeued or deleted jobs, when (audit_log, newest first).</summary>
public static class AuditPage
{
    public const int Shown = 500;

    public static void Map(WebApplication app) => app.MapGet("/audit", async (HttpContext context, ReportingQueries queries, CancellationToken ct) =>
    {
        var entries = await AuditLog.LatestAsync(queries.DataSource, Shown, ct);
        var rows = H.Each(entries, e => H.Html($"""
            <tr><td>{e.At}</td><td>{e.Actor}</td><td>{e.Action}</td><td>{e.Subject}</td><td><code>{e.Details}</code></td></tr>
            """));
        var body = H.Html($"""
            <p>Operator actions that removed or redid work, newest first ({entries.Count} shown, at most {Shown}; all of them are in the table <code>audit_log</code>).</p>
            {H.When(entries.Count == 0, () => H.Html($"<p class=\"empty\">Nothing recorded yet.</p>"))}
            <table class="audit"><thead><tr><th>When (UTC)</th><th>Who</th><th>Action</th><th>Subject</th><th>Details</th></tr></thead><tbody>{rows}</tbody></table>
            """);
        return Layout.Page(context, "Audit log", body);
    });
}
