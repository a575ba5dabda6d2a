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
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(10);

    public static void Map(WebApplication app)
    {
        app.MapPost("/images/{id:long}/exclude", (HttpContext context, FieldReview review, IPublishEndpoint bus, long id, CancellationToken ct) =>
            ChangeAsync(context, review, bus, id, exclude: true, ct)).RequireAuthorization(DashboardRoles.OperatorPolicy);
        app.MapPost("/images/{id:long}/include", (HttpContext context, FieldReview review, IPublishEndpoint bus, long id, CancellationToken ct) =>
            ChangeAsync(context, review, bus, id, exclude: false, ct)).RequireAuthorization(DashboardRoles.OperatorPolicy);
    }

    /// <summary>The field's review form under its overlay, for operators; nothing for other users.</summary>
    public static HtmlText Controls(HttpContext context, ImageRow image) => !Layout.IsOperator(context) ? HtmlText.Empty
        : image.QcExclusion is null
            ? H.Html($"""<form method="post" action="/images/{image.Id}/exclude" class="review">{Layout.Antiforgery(context)}<input type="text" name="reason" required maxlength="{FieldReview.MaxReasonLength}" placeholder="Why leave it out?" aria-label="Reason"><button type="submit">Exclude from results</button></form>""")
            : H.Html($"""<form method="post" action="/images/{image.Id}/include" class="review">{Layout.Antiforgery(context)}<button type="submit">Include again</button></form>""");

    /// <summary>
    /// Excludes (with <paramref name="reason"/>) or includes the field, then asks a worker to aggregate its patient again,
    /// also when nothing changed (a second press finishes what a failed request began). Requested: whether RabbitMQ took that.
    /// </summary>
    internal static async Task<(FieldReviewResult Result, bool Requested)> ApplyAsync(FieldReview review, IPublishEndpoint bus, long imageId,
        string? reason, string actor, CancellationToken ct)
    {
        var result = reason is not null ? await review.ExcludeAsync(imageId, reason, actor, ct) : await review.IncludeAsync(imageId, actor, ct);
        if (result.Outcome == FieldReviewOutcome.NotFound) return (result, false);
        using var publish = CancellationTokenSource.CreateLinkedTokenSource(ct);
        publish.CancelAfter(PublishTimeout);
        try { await bus.Publish(new ReaggregatePatient(result.PatientId, actor), publish.Token); }
        catch (Exception ex) when (ex is OperationCanceledException && !ct.IsCancellationRequested || ex is MassTransitException) { return (result, false); }
        return (result, true);
    }

    internal static string NotRequested(bool exclude) =>
        $"The field is {(exclude ? "excluded" : "included")}, but RabbitMQ did not take the request to recompute the patient's results " +
        $"within {PublishTimeout.TotalSeconds:0} s; they still count the field as before. Send the request again shortly.";

    private static async Task<IResult> ChangeAsync(HttpContext context, FieldReview review, IPublishEndpoint bus, long id, bool exclude, CancellationToken ct)
    {
        if (!await Layout.AntiforgeryValidAsync(context)) return Layout.BadForm();
        var reason = context.Request.Form["reason"].ToString();
        if (exclude && FieldReview.ReasonProblem(reason) is { } problem)
            return Results.Content(problem + " Nothing was changed.", "text/plain; charset=utf-8", statusCode: 400);
        var (result, requested) = await ApplyAsync(review, bus, id, exclude ? reason : null, AuditActor.Of(context), ct);
        if (result.Outcome == FieldReviewOutcome.NotFound) return Layout.NotFound(context, $"There is no image #{id}.");
        if (!requested)
        {
            context.Response.Headers.RetryAfter = "30";
            return Results.Content(NotRequested(exclude), "text/plain; charset=utf-8", statusCode: 503);
        }
        var done = result.Outcome == FieldReviewOutcome.Changed ? (exclude ? "excluded" : "included again") : (exclude ? "was already excluded" : "was not excluded");
        return Flash.Redirect(context, $"/patients/{result.PatientId}",
            $"Field {result.ShownPath} {done}; a worker recomputes the patient's results (reload in a moment).");
    }
}
