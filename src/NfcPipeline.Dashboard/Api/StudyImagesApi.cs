using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Api;

/// <summary>
/// GET /api/studies/{id}/images: a study's images with their states, errors and results, in keyset pages (what the
/// study page lists, for scripts that would otherwise parse results.csv).
/// </summary>
public static class StudyImagesApi
{
    private const int MaxLimit = 1000;

    public static void Map(WebApplication app) => app.MapGet("/api/studies/{id}/images", ListAsync);

    private static async Task<IResult> ListAsync(ReportingQueries queries, string id, string? state, long? after, int? limit, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (state is not null && !Pages.StudyPages.ImageStates.Contains(state)) errors["state"] = [$"state must be one of {string.Join(", ", Pages.StudyPages.ImageStates)}."];
        if (limit is < 1 or > MaxLimit) errors["limit"] = [$"limit must be 1 to {MaxLimit}."];
        if (after is < 1) errors["after"] = ["after must be an image's id (a positive number), as a page's next link gives it."];
        if (errors.Count > 0) return Results.ValidationProblem(errors, title: "The images cannot be listed");
        if (await queries.StudyByExternalIdAsync(id, ct) is not { } study) return Results.Problem($"There is no study '{id}'.", statusCode: 404);
        int take = limit ?? 200;
        IReadOnlyList<ImageRow> rows;
        // A gone anchor, found in the listing's own query: a script walking next links would otherwise read its first
        // pages again without knowing.
        try { rows = await queries.ImagesAsync(study.Id, limit: take + 1, ct: ct, afterImageId: after, state: state); }
        catch (ListingAnchorGoneException gone)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["after"] = [gone.Message] }, title: "The images cannot be listed");
        }
        var page = rows.Take(take).ToList();
        var next = rows.Count > take
            ? $"/api/studies/{Uri.EscapeDataString(study.ExternalId)}/images?{(state is null ? "" : $"state={state}&")}after={page[^1].Id}{(limit is { } l ? $"&limit={l}" : "")}"
            : null;
        return Results.Ok(new
        {
            images = page.Select(i => new
            {
                id = i.Id, patient = i.PatientCode, finger = i.Finger, field = i.Field, path = i.RelPath, state = i.State,
                errorCode = i.ErrorCode, error = i.Error, attempts = i.Attempts, sha256 = Convert.ToHexStringLower(i.Sha256),
                instanceCount = i.InstanceCount, distalCount = i.DistalCount, densityPerMm = i.DensityPerMm, gradable = i.Gradable,
                quality = i.Quality, notes = i.Notes, qcExclusion = i.QcExclusion, counted = i.Counted,
            }),
            next,
        });
    }
}
