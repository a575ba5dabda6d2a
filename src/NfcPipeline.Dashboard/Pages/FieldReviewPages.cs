using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Dashboard.Html;
using NfcPipeline.Dashboard.Security;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Pages;

/// <summary>
/// POST /images/{id}/exclude and /images/{id}/include (operators): a reviewer leaves a field out of its patient's
/// results, with a reason, or takes it back; a worker then aggregates the patient again (ReaggregatePatient).
/// </summary>
public static class FieldReviewPages
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/images/{id:long}/exclude", (HttpContext context, FieldReview review, IPublishEndpoint bus, long id, CancellationToken ct) =>
            ChangeAsync(context, review, bus, id, exclude: true, ct)).RequireAuthorization(DashboardRoles.OperatorPolicy);
        app.MapPost("/images/{id:long}/include", (HttpContext context, FieldReview review, IPublishEndpoint bus, long id, CancellationToken ct) =>
            ChangeAsync(context, review, bus, id, exclude: false, ct)).RequireAuthorization(DashboardRoles.OperatorPolicy);
        app.MapPost("/patients/{id:long}/reaggregate", async (HttpContext context, ReportingQueries queries, IPublishEndpoint bus, long id,
            CancellationToken ct) =>
        {
            if (!await Layout.AntiforgeryValidAsync(context)) return Layout.BadForm();
            if (await queries.PatientAsync(id, ct) is null) return Layout.NotFound(context, $"There is no patient #{id}.");
            if (await RequestAsync(bus, id, AuditActor.Of(context), ct) is { } notTaken)
            {
                context.Response.Headers.RetryAfter = "30";
                return Results.Content(notTaken.WithAdvice("try again") + ".", "text/plain; charset=utf-8", statusCode: 503);
            }
            return Flash.Redirect(context, $"/patients/{id}", "A worker recomputes the patient's results (reload in a moment).");
        }).RequireAuthorization(DashboardRoles.OperatorPolicy);
    }

    /// <summary>
    /// Above the report, when a field was excluded or included after the shown result was computed: the figures do not
    /// show it yet (a worker is on it, or the request was lost); operators may ask again.
    /// </summary>
    public static HtmlText PendingNotice(HttpContext context, Rendering.PatientReport r) =>
        Rendering.PatientReportView.PendingReview(r) is { } pending
            ? H.Html($"""<p class="notice" id="review-pending">{pending} A worker recomputes them; reload in a moment.{H.When(Layout.IsOperator(context), () => H.Html($"""<form method="post" action="/patients/{r.Patient.Id}/reaggregate" class="inline">{Layout.Antiforgery(context)}<button type="submit">Recompute now</button></form>"""))}</p>""")
            : HtmlText.Empty;

    /// <summary>The field's review form under its overlay, for operators; none for other users, nor for a failed field (no result to leave out).</summary>
    public static HtmlText Controls(HttpContext context, ImageRow image) => !Layout.IsOperator(context) || image.State == "failed" && image.QcExclusion is null
        ? HtmlText.Empty
        : image.QcExclusion is null
            ? H.Html($"""<form method="post" action="/images/{image.Id}/exclude" class="review">{Layout.Antiforgery(context)}<input type="hidden" name="sha256" value="{Convert.ToHexStringLower(image.Sha256)}"><input type="text" name="reason" required maxlength="{FieldReview.MaxReasonLength}" placeholder="Why leave it out?" aria-label="Reason"><button type="submit">Exclude from results</button></form>""")
            : H.Html($"""<form method="post" action="/images/{image.Id}/include" class="review">{Layout.Antiforgery(context)}<button type="submit">Include again</button></form>""");

    /// <summary>
    /// Excludes (with <paramref name="reason"/>) or includes the field, then asks a worker to aggregate its patient again,
    /// also when nothing changed (a second press finishes what a failed request began). NotRequested: why RabbitMQ did
    /// not take that request, or null when it did (or there was nothing to request).
    /// </summary>
    internal static async Task<(FieldReviewResult Result, PublishFailure? NotRequested)> ApplyAsync(FieldReview review, IPublishEndpoint bus,
        long imageId, string? reason, string actor, CancellationToken ct, byte[]? shownSha256 = null)
    {
        var result = reason is not null ? await review.ExcludeAsync(imageId, reason, actor, ct, shownSha256) : await review.IncludeAsync(imageId, actor, ct);
        if (result.Outcome is FieldReviewOutcome.NotFound or FieldReviewOutcome.NoResult or FieldReviewOutcome.ContentChanged) return (result, null);
        return (result, await RequestAsync(bus, result.PatientId, actor, ct));
    }

    private static Task<PublishFailure?> RequestAsync(IPublishEndpoint bus, long patientId, string actor, CancellationToken ct) =>
        BoundedPublish.TryPublishAsync(bus, new ReaggregatePatient(patientId, actor), null, "request to recompute the patient's results", ct);

    internal static string NotRequested(bool exclude, PublishFailure failure) =>
        $"The field is {(exclude ? "excluded" : "included")}, but {failure.Reason}; they still count the field as before. " +
        (failure.NoQueue ? "Start a worker, then send the request again." : "Send the request again shortly.");

    /// <summary>The content the form was shown for (hex), empty when not sent (a script's post); null when malformed.</summary>
    internal static byte[]? ShownSha256(string? hex)
    {
        if (string.IsNullOrEmpty(hex)) return [];
        if (hex.Length != 64) return null;
        try { return Convert.FromHexString(hex); }
        catch (FormatException) { return null; }
    }

    private static async Task<IResult> ChangeAsync(HttpContext context, FieldReview review, IPublishEndpoint bus, long id, bool exclude, CancellationToken ct)
    {
        if (!await Layout.AntiforgeryValidAsync(context)) return Layout.BadForm();
        var reason = context.Request.Form["reason"].ToString();
        if (exclude && FieldReview.ReasonProblem(reason) is { } problem)
            return Results.Content(problem + " Nothing was changed.", "text/plain; charset=utf-8", statusCode: 400);
        if (ShownSha256(context.Request.Form["sha256"].ToString()) is not { } shown)
            return Results.Content("The form's sha256 is not a SHA-256 in hex. Nothing was changed.", "text/plain; charset=utf-8", statusCode: 400);
        var (result, notRequested) = await ApplyAsync(review, bus, id, exclude ? reason : null, AuditActor.Of(context), ct, shown.Length == 0 ? null : shown);
        if (result.Outcome == FieldReviewOutcome.NotFound) return Layout.NotFound(context, $"There is no image #{id}.");
        if (result.Outcome == FieldReviewOutcome.ContentChanged)
            return Results.Content($"Field {result.ShownPath} is not excluded: {FieldReview.ContentChangedReason}.", "text/plain; charset=utf-8", statusCode: 409);
        if (result.Outcome == FieldReviewOutcome.NoResult)
            return Results.Content($"Field {result.ShownPath} is not excluded: {FieldReview.NoResultReason}.", "text/plain; charset=utf-8", statusCode: 409);
        if (notRequested is not null)
        {
            context.Response.Headers.RetryAfter = "30";
            return Results.Content(NotRequested(exclude, notRequested), "text/plain; charset=utf-8", statusCode: 503);
        }
        var done = result.Outcome == FieldReviewOutcome.Changed ? (exclude ? "excluded" : "included again") : (exclude ? "was already excluded" : "was not excluded");
        return Flash.Redirect(context, $"/patients/{result.PatientId}",
            $"Field {result.ShownPath} {done}; a worker recomputes the patient's results (reload in a moment).");
    }
}
