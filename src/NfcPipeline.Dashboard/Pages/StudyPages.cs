using Microsoft.Extensions.Options;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Dashboard.Html;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Pages;

/// <summary>GET /studies (progress of every study) and GET /studies/{id} (patients, and images with states and errors in pages, filtered by state).</summary>
public static class StudyPages
{
    /// <summary>The states a study can be in (the schema's; the API's filter too).</summary>
    public static readonly string[] StudyStates = ["registered", "processing", "completed", "completed_with_errors", "failed"];
    /// <summary>The states an image can be in (the API's filter too).</summary>
    public static readonly string[] ImageStates = ["pending", "queued", "processing", "succeeded", "failed"];

    public static void Map(WebApplication app)
    {
        app.MapGet("/studies", async (HttpContext context, ReportingQueries queries, string? state, long? before, string? message, CancellationToken ct) =>
        {
            state = StudyStates.Contains(state) ? state : null;
            var page = await queries.StudiesAsync(state, before, 50, ct);
            var filters = H.Each(StudyStates.Prepend(""), s => H.Html($"<a class=\"tab{(s == (state ?? "") ? " current" : "")}\" href=\"/studies?state={s}\">{(s == "" ? "all" : s)}</a>"));
            var body = H.Html($"""
                {Flash.Show(context, message)}
                <nav class="tabs">{filters}</nav>
                {StudyTable(page.Rows)}
                {H.When(page.NextBefore is not null, () => H.Html($"<p><a class=\"next\" href=\"/studies?state={state}&before={page.NextBefore}\">Older →</a></p>"))}
                """);
            return Layout.Page(context, "Studies", body);
        });

        app.MapGet("/studies/{id:long}", async (HttpContext context, ReportingQueries queries, IOptions<DashboardOptions> options, long id,
            string? images_state, long? images_after, string? message, CancellationToken ct) =>
        {
            var study = await queries.StudyAsync(id, ct);
            if (study is null) return Layout.NotFound(context, $"There is no study #{id}.");
            var patients = await queries.PatientsAsync(id, ct);
            var state = ImageStates.Contains(images_state) ? images_state : null;
            int pageSize = options.Value.StudyImagesPageSize;
            IReadOnlyList<ImageRow> images;
            string? restarted = null;
            try { images = await queries.ImagesAsync(id, limit: pageSize + 1, ct: ct, afterImageId: images_after, state: state); }
            catch (ListingAnchorGoneException gone)
            {
                // The page's "Next" named an image removed since (a resubmission): the first page, said as such.
                restarted = $"Image {gone.ImageId}, where the last page ended, is no longer in this study (submitted again since?): the images are listed from the first page.";
                images_after = null;
                images = await queries.ImagesAsync(id, limit: pageSize + 1, ct: ct, state: state);
            }
            bool more = images.Count > pageSize;
            if (more) images = images.Take(pageSize).ToList();
            long total = state switch { null => study.Images, "succeeded" => study.Succeeded, "failed" => study.Failed, _ => -1 };
            var imageTabs = H.Each(ImageStates.Prepend(""), s => H.Html(
                $"<a class=\"tab{(s == (state ?? "") ? " current" : "")}\" href=\"/studies/{id}?images_state={s}\">{(s == "" ? "all" : s)}</a>"));
            var shown = (images.Count == 0 ? "none" : images_after is null ? $"first {images.Count}" : $"{images.Count} more")
                + (total >= 0 ? $" of {total}" : "");
            var patientRows = H.Each(patients, p => H.Html($"""
                <tr><td><a class="patient-link" href="/patients/{p.Id}">{p.Code}</a></td><td>{Layout.StateBadge(p.State)}</td>
                <td>{Layout.Progress(p.Succeeded, p.Failed, p.Images)}</td><td>{Rendering.PatientReportView.PatternLabel(p.Pattern)}</td><td>{H.Number(p.DensityMean)}</td><td>{p.Model}</td></tr>
                """));
            var imageRows = H.Each(images, i => H.Html($"""
                <tr class="image-{i.State}"><td>{i.PatientCode}</td><td>{i.Finger}</td><td>{i.Field}</td><td>{i.RelPath}</td>
                <td>{Layout.StateBadge(i.State)}</td><td>{i.Attempts}</td><td>{i.InstanceCount}</td><td>{i.Quality}</td><td>{Layout.FieldDensity(i)}</td>
                <td class="error">{i.ErrorCode}{H.When(i.Error is not null, () => H.Html($"{(i.ErrorCode is null ? "" : ": ")}{i.Error}"))}{H.When(i.Notes is { Length: > 0 }, () =>
                    H.Html($"<span class=\"notes\">{string.Join(" · ", i.Notes!)}</span>"))}{H.When(i.QcExclusion is not null, () =>
                    H.Html($"<span class=\"qc-exclusion\">Excluded at review: {i.QcExclusion}</span>"))}</td></tr>
                """));
            var body = H.Html($"""
                {Flash.Show(context, message)}
                {H.When(restarted is not null, () => H.Html($"<p class=\"flash\">{restarted}</p>"))}
                <table class="detail">
                  <tr><th>State</th><td>{Layout.StateBadge(study.State)}</td></tr>
                  <tr><th>Progress</th><td>{Layout.Progress(study.Succeeded, study.Failed, study.Images)}</td></tr>
                  <tr><th>Source</th><td>{study.SourcePath ?? "(submitted by message)"}</td></tr>
                  <tr><th>µm per pixel</th><td>{H.Number(study.UmPerPx ?? study.AnalysisUmPerPx, "0.###")}{H.When(study.UmPerPx is null && study.AnalysisUmPerPx is not null,
                      () => H.Html($" (the worker's default: the study gives none)"))}</td></tr>
                  <tr><th>Registered</th><td>{study.RegisteredAt}{H.When(study.RegisteredAt != study.CreatedAt,
                      () => H.Html($" (first {study.CreatedAt})"))}</td></tr><tr><th>Completed</th><td>{study.CompletedAt}</td></tr>
                </table>
                <p><a href="/api/studies/{H.Q(study.ExternalId)}/results.csv" download>Results as CSV</a> ·
                   <a href="/api/studies/{H.Q(study.ExternalId)}/patients.csv" download>Patients as CSV</a> ·
                   <a href="/jobs?state=failed&study={H.Q(study.ExternalId)}">Failed jobs of this study</a></p>
                {H.When(Layout.IsOperator(context) && study.State == "completed_with_errors" && study.SourcePath is not null, () => H.Html($"""
                    <form method="post" action="/studies/{id}/retry-failed">{Layout.Antiforgery(context)}<button type="submit" id="retry-failed">Analyse the failed images again</button>
                      <span class="hint">submits the study's folder again at its calibration: failed images (and any that changed) are queued, the others keep their results</span></form>
                    """))}
                {H.When(Layout.IsOperator(context) && study.State != "processing", () => H.Html($"""
                    <form method="post" action="/studies/{id}/delete" class="danger" data-confirm="Delete this study and its rows? The files in the share are not touched.">
                      {Layout.Antiforgery(context)}<label><input type="checkbox" name="confirm" value="yes" required> I mean to delete study {study.ExternalId}</label>
                      <button type="submit" id="delete-study">Delete this study</button>
                      <span class="hint">its patients, images, patient results and jobs; image results stay, keyed by content; the share's files are not touched</span></form>
                    """))}
                <h2>Patients ({patients.Count})</h2>
                <table class="patients"><thead><tr><th>Patient</th><th>State</th><th>Images</th><th>Pattern</th><th>Density /mm</th><th>Model (of pattern and density)</th></tr></thead><tbody>{patientRows}</tbody></table>
                <h2>Images ({shown})</h2>
                <nav class="tabs image-states">{imageTabs}</nav>
                {H.When(images_after is not null, () => H.Html($"<a class=\"first\" href=\"/studies/{id}?images_state={state}\">← First page</a> "))}
                {H.When(more, () => H.Html($"<a class=\"next\" href=\"/studies/{id}?images_state={state}&images_after={images[^1].Id}\">Next →</a>"))}
                <table class="images"><thead><tr><th>Patient</th><th>Finger</th><th>Field</th><th>Path</th><th>State</th><th>Attempts</th><th>Instances (all classes)</th><th>Quality</th><th>Density /mm</th><th>Error or notes</th></tr></thead><tbody>{imageRows}</tbody></table>
                """);
            return Layout.Page(context, $"Study {study.ExternalId}", body);
        });

        // A resubmission queues failed images again (and reuses every stored result): the fix for images that failed
        // one by one (a timeout, a permission since corrected), whose chunks succeeded and so cannot be requeued.
        app.MapPost("/studies/{id:long}/retry-failed", async (HttpContext context, ReportingQueries queries, MassTransit.IPublishEndpoint bus, long id,
            CancellationToken ct) =>
        {
            if (!await Layout.AntiforgeryValidAsync(context)) return Layout.BadForm();
            if (await queries.StudyAsync(id, ct) is not { } study) return Layout.NotFound(context, $"There is no study #{id}.");
            // The button shows for these only; a stale page's form is answered, not acted on.
            if (study.SourcePath is null)
                return Flash.Redirect(context, $"/studies/{id}", "This study was submitted as a list of images: submit that list again to analyse its failed images.");
            if (study.State != "completed_with_errors")
                return Flash.Redirect(context, $"/studies/{id}", $"Study {study.ExternalId} is {study.State}: only a study completed with errors has failed images to analyse again.");
            // With the device its submission gave (study.json's is read again from it: a resubmission stores what it
            // carries, and a device given with the submission would otherwise be erased). No calibration: one given
            // earlier holds over a submission that gives none, and sent here it would hold over a study.json edited since.
            var resubmission = new NfcPipeline.Contracts.SubmitStudy
            {
                StudyId = study.ExternalId, FolderPath = study.SourcePath,
                Device = study.DeviceFromManifest ? null : study.Device,
            };
            if (await BoundedPublish.TryPublishAsync(bus, resubmission, null, "resubmission", ct) is { } notTaken)
                return Flash.Redirect(context, $"/studies/{id}", notTaken.NoQueue ? notTaken.WithAdvice("retry the failed images") + "."
                    : $"{notTaken.Reason} (it may still arrive): reload the study in a minute, and try again if it has not started.");
            return Flash.Redirect(context, "/studies", $"Study {study.ExternalId} submitted again: its failed images are analysed again.");
        }).RequireAuthorization(DashboardRoles.OperatorPolicy);

        app.MapPost("/studies/{id:long}/delete", async (HttpContext context, ReportingQueries queries, StudyAdmin admin, long id, CancellationToken ct) =>
        {
            if (!await Layout.AntiforgeryValidAsync(context)) return Layout.BadForm();
            if (await queries.StudyAsync(id, ct) is not { } study) return Layout.NotFound(context, $"There is no study #{id}.");
            // The checkbox is the confirmation without JavaScript (site.js's dialog is a convenience on top).
            if (context.Request.Form["confirm"] != "yes")
                return Results.Content("Tick the box to confirm the deletion; nothing was deleted.", "text/plain; charset=utf-8", statusCode: 400);
            var result = await admin.DeleteAsync(study.ExternalId, Security.AuditActor.Of(context), ct);
            return result.Outcome switch
            {
                StudyDeletion.Deleted => Flash.Redirect(context, "/studies", $"Deleted study {study.ExternalId}: {result.Patients} patient(s), {result.Images} image(s)."),
                // Another operator's deletion went first: its page is gone.
                StudyDeletion.NotFound => Flash.Redirect(context, "/studies", $"Study {study.ExternalId} was already deleted."),
                // Submitted again since the page was shown: the page without the button said nothing of why.
                _ => Flash.Redirect(context, $"/studies/{id}", $"Study {study.ExternalId} is processing (submitted again since the page was shown); nothing was deleted."),
            };
        }).RequireAuthorization(DashboardRoles.OperatorPolicy);
    }

    public static HtmlText StudyTable(IReadOnlyList<StudyProgress> studies) => H.Html($"""
        <table class="studies"><thead><tr><th>Study</th><th>State</th><th>Progress</th><th>Registered</th><th>Completed</th></tr></thead><tbody>
        {H.Each(studies, s => H.Html($"<tr><td><a href=\"/studies/{s.Id}\">{s.ExternalId}</a></td><td>{Layout.StateBadge(s.State)}</td><td>{Layout.Progress(s.Succeeded, s.Failed, s.Images)}</td><td>{s.RegisteredAt}</td><td>{s.CompletedAt}</td></tr>"))}
        </tbody></table>
        """);
}
