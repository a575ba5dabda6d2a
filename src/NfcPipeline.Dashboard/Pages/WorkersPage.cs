using NfcPipeline.Dashboard.Html;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Pages;

/// <summary>GET /workers: heartbeats, device and provider, model hash and throughput.</summary>
public static class WorkersPage
{
    public static void Map(WebApplication app) => app.MapGet("/workers", async (HttpContext context, ReportingQueries queries, CancellationToken ct) =>
    {
        var workers = await queries.WorkersAsync(200, ct);
        var rows = H.Each(workers, w => H.Html($"""
            <tr class="{(w.Alive ? "alive" : "dead")}"><td>{w.Id}</td><td>{w.Host}</td><td>{w.Pid}</td><td>{w.Device}</td><td>{w.Provider}</td>
            <td class="sha" title="{Hex(w.ModelSha256)}">{Short(w.ModelSha256)}</td><td>{w.StartedAt}</td><td>{w.HeartbeatAt}</td>
            <td>{(w.Alive ? "alive" : "silent")} · {w.State}</td><td>{w.ImagesProcessed}</td><td><code>{w.LastBatch}</code></td></tr>
            """));
        int models = workers.Where(w => w.Alive).Select(w => Hex(w.ModelSha256)).Distinct().Count();
        var body = H.Html($"""
            {H.When(models > 1, () => H.Html($"<p class=\"warning\" id=\"mixed-models\">The live workers run {models} different models. All workers on one queue must load the same model: a study's chunks go to whichever worker takes them and a patient is aggregated from one model's results, so patients miss fields. Let the queue drain and run one model.</p>"))}
            <p>{workers.Count(w => w.Alive)} of {workers.Count} workers alive (a heartbeat within 2 minutes, or within four of its own intervals where longer).</p>
            <table><thead><tr><th>Worker</th><th>Host</th><th>PID</th><th>Device</th><th>Provider</th><th>Model</th><th>Started</th>
            <th>Heartbeat</th><th>Status</th><th>Images processed</th><th>Last batch</th></tr></thead><tbody>{rows}</tbody></table>
            """);
        return Layout.Page(context, "Workers", body);
    });

    private static string Hex(byte[]? sha) => sha is null ? "" : Convert.ToHexStringLower(sha);
    private static string Short(byte[]? sha) => Hex(sha) is { Length: > 12 } hex ? hex[..12] : Hex(sha);
}
