using NfcPipeline.Dashboard.Html;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Pages;

/// <summary>GET /: queue depth, recent throughput, live workers, recent failures, active studies.</summary>
public static class OverviewPage
{
    public static void Map(WebApplication app) => app.MapGet("/", async (HttpContext context, ReportingQueries queries, CancellationToken ct) =>
    {
        var s = await queries.OverviewAsync(ct);
        var studies = await queries.StudiesAsync(null, null, 10, ct);
        var body = H.Html($"""
            <section class="tiles">
              <div class="tile" id="queue-depth"><span class="value">{s.QueueDepth}</span><span class="label">queued jobs (enqueued + retrying)</span></div>
              <div class="tile"><span class="value">{s.Processing}</span><span class="label">jobs processing</span></div>
              <div class="tile" id="images-per-second"><span class="value">{s.ImagesPerSecond:0.00}</span><span class="label">images/s (last {s.WindowMinutes} min)</span></div>
              <div class="tile" id="workers-alive"><span class="value">{s.WorkersAlive}</span><span class="label">workers alive (recent heartbeat)</span></div>
              <div class="tile" id="failures-last-hour"><span class="value"><a href="/jobs?state=failed">{s.FailuresLastHour}</a></span><span class="label">failures in the last hour</span></div>
              <div class="tile"><span class="value">{s.StudiesActive}</span><span class="label">studies in progress</span></div>
            </section>
            <h2>Latest studies</h2>
            {StudyPages.StudyTable(studies.Rows)}
            <p><a href="/studies">All studies</a></p>
            """);
        return Layout.Page(context, "Overview", body);
    });
}
