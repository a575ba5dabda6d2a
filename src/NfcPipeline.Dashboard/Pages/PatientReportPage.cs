using NfcPipeline.Dashboard.Html;
using NfcPipeline.Dashboard.Rendering;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Pages;

/// <summary>GET /patients/{id} (the report), /patients/{id}/print (printable export) and /images/{id}/overlay.png.</summary>
public static class PatientReportPage
{
    /// <summary>The widest overlay drawn on request (?width=); without it the image's own width.</summary>
    public const int MaxOverlayWidth = 8192;

    public static void Map(WebApplication app)
    {
        app.MapGet("/patients/{id:long}", async (HttpContext context, ReportingQueries queries, long id, long? model, string? message, CancellationToken ct) =>
        {
            var r = await PatientReport.LoadAsync(queries, id, model, ct);
            if (r is null) return Layout.NotFound(context, $"There is no patient #{id}.");
            var models = H.When(r.AllModels.Count > 1, () => H.Html($"<p class=\"models\">Results of other models: {H.Each(r.AllModels.Where(m => m.ModelId != r.Metrics?.ModelId), m => H.Html($"<a href=\"/patients/{id}?model={m.ModelId}\">{m.ModelName} {m.ModelVersion}</a> "))}</p>"));
            var body = H.Html($"""
                {Flash.Show(context, message)}
                <p class="breadcrumb"><a href="/studies/{r.Patient.StudyId}">Study {r.Patient.StudyExternalId}</a> › patient {r.Patient.Code} · {Layout.StateBadge(r.Patient.State)}</p>
                <p class="exports"><a href="/patients/{id}/print{(r.Metrics is null ? "" : $"?model={r.Metrics.ModelId}")}">Printable report</a> ·
                  <a href="/api/patients/{id}/metrics.csv" download>Metrics as CSV</a> · <a href="/api/patients/{id}/metrics">Metrics as JSON</a></p>
                {models}
                {FieldReviewPages.PendingNotice(context, r)}
                {PatientReportView.Sections(r, withGallery: true, review: i => FieldReviewPages.Controls(context, i))}
                """);
            return Layout.Page(context, $"Patient {r.Patient.Code}", body);
        });

        app.MapGet("/patients/{id:long}/print", async (HttpContext context, ReportingQueries queries, long id, long? model, CancellationToken ct) =>
        {
            var r = await PatientReport.LoadAsync(queries, id, model, ct);
            if (r is null) return Layout.NotFound(context, $"There is no patient #{id}.");
            context.Response.Headers.ContentSecurityPolicy = PrintableReport.ContentSecurityPolicy;
            return Results.Content(PrintableReport.Render(r, DateTime.UtcNow), "text/html; charset=utf-8");
        });

        app.MapGet("/images/{id:long}/overlay.png", async (HttpContext context, OverlayService overlays, long id, long? model, int? width, CancellationToken ct) =>
        {
            if (width is not null and not (> 0 and <= MaxOverlayWidth))
                return Results.Problem($"width must be 1 to {MaxOverlayWidth} pixels (without it, the image's own width).", statusCode: 400);
            var (outcome, png) = await overlays.RenderAsync(id, model, width, ct);
            return outcome switch
            {
                OverlayService.Outcome.Rendered => Results.File(png!, "image/png"),
                OverlayService.Outcome.NoImage => Results.Problem($"There is no image #{id}.", statusCode: 404),
                OverlayService.Outcome.NoShare => Results.Problem("Dashboard:ShareRoot is not configured.", statusCode: 404),
                OverlayService.Outcome.SourceMissing => Results.Problem("The source image is not in the share (moved or removed).", statusCode: 404),
                OverlayService.Outcome.Changed => Results.Problem(
                    "The source image has changed since it was analysed; its results would be drawn on other pixels. Submit the study again.", statusCode: 409),
                OverlayService.Outcome.ShareNotAnswering => Unavailable(context, "The share did not answer in time (Dashboard:ShareTimeout); a network mount may be hung."),
                OverlayService.Outcome.Unreadable => Results.Problem(
                    "The dashboard cannot read the source image (permission denied, or an I/O error): check that the dashboard's user may read the share's files.",
                    statusCode: 503),
                OverlayService.Outcome.Busy => Unavailable(context, "Every overlay slot is busy (Dashboard:MaxConcurrentOverlays); try again shortly."),
                _ => Results.Problem("The source image cannot be decoded.", statusCode: 422),
            };
        });
    }

    private static IResult Unavailable(HttpContext context, string why)
    {
        context.Response.Headers.RetryAfter = "30";
        return Results.Problem(why, statusCode: 503);
    }
}
