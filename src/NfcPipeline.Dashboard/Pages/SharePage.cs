using MassTransit;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Dashboard.Html;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Pages;

/// <summary>
/// GET /share: the share watch schedule, the folders not being analysed and why, and recent scans; POST /share/trigger
/// scans now. GET /recurring (its first name, after Hangfire's page) redirects here.
/// </summary>
public static class SharePage
{
    private static string NoteState(string state) => state switch
    {
        "refused" => "refused by the scan",
        "no_marker" => "waiting for READY or study.json",
        "waiting" => "waiting (file times in the future)",
        "registration_refused" => "refused when registered",
        _ => state,
    };

    public static void Map(WebApplication app)
    {
        app.MapGet("/recurring", () => Results.Redirect("/share", permanent: true));
        app.MapGet("/share", async (HttpContext context, ReportingQueries queries, string? message, CancellationToken ct) =>
        {
            var (watches, scans) = await queries.ShareScansAsync(50, ct);
            var notes = await queries.ShareFolderNotesAsync(500, ct);
            var noteRows = H.Each(notes, n => H.Html($"""
                <tr class="note-{n.State}"><td>{n.Root}</td><td class="folder">{n.Folder}</td><td>{NoteState(n.State)}</td><td class="reason">{n.Reason}</td>
                <td>{n.FirstSeen}</td><td>{n.LastSeen}</td></tr>
                """));
            var watchRows = H.Each(watches, w => H.Html($"""
                <tr><td>{w.Root}</td><td>every {w.IntervalSeconds} s</td><td>{w.LastScanAt}</td><td>{w.NextScanAt}</td>
                <td class="requested">{w.ScanRequestedAt}</td></tr>
                """));
            var scanRows = H.Each(scans, s => H.Html($"""
                <tr class="{(s.Error is null ? "" : "has-error")}"><td>{s.StartedAt}</td><td>{s.FinishedAt}</td><td>{s.Root}</td><td>{s.WorkerId}</td>
                <td>{s.FoldersSeen}</td><td>{s.StudiesFound}</td><td class="error">{s.Error}</td></tr>
                """));
            var trigger = H.When(Layout.IsOperator(context), () => H.Html($"""
                <form method="post" action="/share/trigger">{Layout.Antiforgery(context)}<button type="submit" id="trigger-scan">Scan the share now</button></form>
                """));
            var body = H.Html($"""
                {Flash.Show(context, message)}
                <h2>Share scans</h2>
                <table><thead><tr><th>Root</th><th>Schedule</th><th>Last run</th><th>Next run</th><th>Scan requested</th></tr></thead><tbody>{watchRows}</tbody></table>
                {H.When(watches.Count == 0, () => HtmlText.Trusted("<p class=\"empty\">No share is watched yet (no share_watch rows).</p>"))}
                {trigger}
                <h2>Study folders not analysed</h2>
                <table id="folder-notes"><thead><tr><th>Root</th><th>Folder</th><th>State</th><th>Why</th><th>Since</th><th>Last seen</th></tr></thead><tbody>{noteRows}</tbody></table>
                {H.When(notes.Count == 0, () => HtmlText.Trusted("<p class=\"empty\">Every study folder of the share was submitted (or none is there).</p>"))}
                <h2>Recent scans</h2>
                <table><thead><tr><th>Started</th><th>Finished</th><th>Root</th><th>Worker</th><th>Folders seen</th><th>Studies found</th><th>Error</th></tr></thead><tbody>{scanRows}</tbody></table>
                """);
            return Layout.Page(context, "Share", body);
        });

        app.MapPost("/share/trigger", async (HttpContext context, JobAdmin jobs, IPublishEndpoint bus, CancellationToken ct) =>
        {
            if (!await Layout.AntiforgeryValidAsync(context)) return Layout.BadForm();
            int roots;
            using var publisher = new StallGuardedPublisher(bus);
            try { roots = await jobs.TriggerScanAsync(context.User.Identity?.Name ?? "dashboard", publisher.PublishAsync, ct); }
            catch (BrokerUnavailableException ex)
            {
                return Flash.Redirect(context, "/share", $"The scan was not recorded as requested: {ex.Message}. Try again shortly (the request may still arrive).");
            }
            return Flash.Redirect(context, "/share", $"Scan requested for {roots} watched root(s).");
        }).RequireAuthorization(DashboardRoles.OperatorPolicy);
    }
}
