using MassTransit;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Dashboard.Pages;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Api;

/// <summary>
/// PUT and DELETE /api/studies/{id}/exclusions?field=PATH (operators): a field excluded at review, with a reason, or
/// included again (docs/review.md). PATH is the field's path as the reports show it.
/// </summary>
public static class ReviewApi
{
    /// <summary>The body of an exclusion.</summary>
    /// <summary>Sha256: the content the reason was written for (hex, optional); another content now is a 409.</summary>
    public sealed record ExclusionRequest(string? Reason, string? Sha256 = null);

    public static void Map(WebApplication app)
    {
        app.MapPut("/api/studies/{id}/exclusions", async (HttpContext context, FieldReview review, IPublishEndpoint bus, string id, string? field,
            CancellationToken ct) =>
        {
            // Read here rather than bound: a body that is not JSON got an empty 400 or 415, not problem details naming it.
            if (!context.Request.HasJsonContentType())
                return Results.Problem("The body must be JSON (Content-Type: application/json): {\"reason\": \"…\"}.", statusCode: 415, title: "Invalid request");
            ExclusionRequest? body;
            // A field it does not know is refused ("image_sha256" for sha256 would skip the content check unseen).
            try { body = await context.Request.ReadFromJsonAsync<ExclusionRequest>(StudiesApi.RequestJson, ct); }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"The body must be {{\"reason\": \"…\"}}: {ex.Message}"] });
            }
            if (FieldReview.ReasonProblem(body?.Reason) is { } problem)
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = [problem] });
            if (body!.Sha256 is { Length: 0 } || FieldReviewPages.ShownSha256(body.Sha256) is not { } shown)
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["sha256"] = ["The content's SHA-256 must be 64 hex digits (as results.csv lists it)."] });
            return await ChangeAsync(context, review, bus, id, field, body.Reason!.Trim(), ct, shown.Length == 0 ? null : shown);
        }).RequireAuthorization(DashboardRoles.OperatorPolicy);
        app.MapDelete("/api/studies/{id}/exclusions", (HttpContext context, FieldReview review, IPublishEndpoint bus, string id, string? field,
            CancellationToken ct) => ChangeAsync(context, review, bus, id, field, null, ct)).RequireAuthorization(DashboardRoles.OperatorPolicy);
    }

    private static async Task<IResult> ChangeAsync(HttpContext context, FieldReview review, IPublishEndpoint bus, string studyId, string? field,
        string? reason, CancellationToken ct, byte[]? shownSha256 = null)
    {
        if (string.IsNullOrEmpty(field))
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["field"] = ["Name the field by its path as the reports show it (?field=P01/L2/f1.jpg)."] });
        var matches = await review.FindAsync(studyId, field, ct);
        if (FieldReview.LookupProblem(matches, studyId, field) is { } lookup)
            return Results.Problem(char.ToUpperInvariant(lookup[0]) + lookup[1..] + ".", statusCode: matches.Count == 0 ? 404 : 409);
        var (result, notRequested) = await FieldReviewPages.ApplyAsync(review, bus, matches[0], reason, Security.AuditActor.Of(context), ct, shownSha256);
        if (result.Outcome == FieldReviewOutcome.NotFound) return Results.Problem($"Study '{studyId}' has no field '{field}'.", statusCode: 404);
        if (result.Outcome == FieldReviewOutcome.ContentChanged)
            return Results.Problem($"Field '{field}' is not excluded: {FieldReview.ContentChangedReason}.", statusCode: 409);
        if (result.Outcome == FieldReviewOutcome.NoResult)
            return Results.Problem($"Field '{field}' is not excluded: {FieldReview.NoResultReason}.", statusCode: 409);
        if (notRequested is not null)
        {
            context.Response.Headers.RetryAfter = "30";
            return Results.Problem(FieldReviewPages.NotRequested(reason is not null, notRequested), statusCode: 503, title: "Service unavailable");
        }
        return Results.Ok(new { field = result.ShownPath, excluded = reason is not null, reason, changed = result.Outcome == FieldReviewOutcome.Changed });
    }
}
