using MassTransit;
using Microsoft.Extensions.Options;
using NfcPipeline.Contracts;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Intake;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Storage.Reporting;
using NfcPipeline.Core.Domain;

namespace NfcPipeline.Dashboard.Api;

/// <summary>POST and GET /api/studies, GET and DELETE /api/studies/{id}, GET /api/studies/{id}/results.csv and patients.csv (id = the external study id); its images: StudyImagesApi.</summary>
public static class StudiesApi
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/api/studies", Submit).RequireAuthorization(DashboardRoles.OperatorPolicy);
        app.MapGet("/api/studies", List);
        app.MapGet("/api/studies/{id}", Status);
        app.MapDelete("/api/studies/{id}", async (HttpContext context, StudyAdmin admin, string id, CancellationToken ct) =>
            (await admin.DeleteAsync(id, Security.AuditActor.Of(context), ct)).Outcome switch
            {
                StudyDeletion.Deleted => Results.NoContent(),
                StudyDeletion.NotFound => Results.Problem($"There is no study '{id}'.", statusCode: 404),
                _ => Results.Problem($"Study '{id}' is still processing; delete it once it has completed.", statusCode: 409),
            }).RequireAuthorization(DashboardRoles.OperatorPolicy);
        app.MapGet("/api/studies/{id}/patients.csv", (HttpContext context, ReportingQueries queries, ExportGate gate, string id, CancellationToken ct) =>
            StudyCsvAsync(context, queries, gate, id, "patients", (w, study) => ReportCsv.WriteStudyPatientsAsync(w, queries.DataSource, study.ExternalId, ct), ct));
        app.MapGet("/api/studies/{id}/results.csv", (HttpContext context, ReportingQueries queries, ExportGate gate, string id, CancellationToken ct) =>
            StudyCsvAsync(context, queries, gate, id, "results", (w, study) => ReportCsv.WriteStudyResultsAsync(w, queries.DataSource, study.Id, ct), ct));
    }

    /// <summary>A study's CSV export as a download named study-{db id}-{name}.csv; 404 for an unknown study.</summary>
    private static async Task<IResult> StudyCsvAsync(HttpContext context, ReportingQueries queries, ExportGate gate, string id, string name,
        Func<TextWriter, StudyProgress, Task> write, CancellationToken ct)
    {
        var study = await queries.StudyByExternalIdAsync(id, ct);
        if (study is null) return Results.Problem($"There is no study '{id}'.", statusCode: 404);
        using var slot = await gate.EnterAsync(ct);
        if (slot is null)
        {
            context.Response.Headers.RetryAfter = "30";
            return Results.Problem("Too many exports are being downloaded at once (Dashboard:MaxConcurrentExports); try again shortly.", statusCode: 503);
        }
        context.Response.ContentType = "text/csv; charset=utf-8";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"study-{study.Id}-{name}.csv\"";
        // Disposed (flushed) only once written whole: a flush, even of nothing, starts the 200, and a query that failed
        // before its first row would then be a download cut short, not the exception handler's 503.
        var writer = new StreamWriter(context.Response.Body, leaveOpen: true);
        await write(writer, study);
        await writer.DisposeAsync();
        return Results.Empty;
    }

    /// <summary>
    /// The web defaults, and a field the body may not hold is refused: a mistyped one ("umPerPx" for
    /// micrometresPerPixel) was dropped, and the study measured at another calibration.
    /// </summary>

    internal static readonly System.Text.Json.JsonSerializerOptions RequestJson = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The body: SubmitStudy's fields (camelCase JSON). Validation failures are RFC 7807 problem details.</summary>
    public sealed record SubmitStudyRequest(string? StudyId, string? FolderPath, List<SubmittedImage>? Images,
        double? MicrometresPerPixel, string? Device, bool Reanalyze);

    private static async Task<IResult> Submit(HttpRequest request, IOptions<DashboardOptions> options, IPublishEndpoint bus,
        ReportingQueries queries, ShareCheckGate shareChecks, CancellationToken ct)
    {
        // Read here rather than bound: a body that is not JSON, or a field of the wrong type, gets problem details
        // naming what is wrong (the binder answered with an empty 400 or 415).
        if (!request.HasJsonContentType())
            return Results.Problem("The body must be JSON (Content-Type: application/json).", statusCode: 415, title: "Invalid request");
        var idempotencyKey = request.Headers["Idempotency-Key"].ToString();
        // Present but empty is refused too: a client that meant a key and sent none would lose its retries' safety unsaid.
        bool keySent = request.Headers.ContainsKey("Idempotency-Key");
        if ((keySent && idempotencyKey.Length == 0) || idempotencyKey.Length > MaxIdempotencyKey || idempotencyKey.Any(c => c is < '!' or > '~'))
            return Results.ValidationProblem(new Dictionary<string, string[]>
            {
                ["Idempotency-Key"] = [$"The Idempotency-Key header must be 1 to {MaxIdempotencyKey} printable ASCII characters."],
            }, title: "The study cannot be submitted");
        SubmitStudyRequest? body;
        try { body = await request.ReadFromJsonAsync<SubmitStudyRequest>(RequestJson, ct); }
        catch (InvalidOperationException ex)   // a charset .NET does not know (the build has no code pages)
        {
            return Results.Problem($"The body must be JSON in UTF-8: {ex.Message}", statusCode: 415, title: "Invalid request");
        }
        catch (System.Text.Json.JsonException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { [ex.Path is { Length: > 2 } p ? p[2..] : "body"] = [ex.Message] },
                title: "The study cannot be submitted");
        }
        if (body is null) return Results.Problem("The body must be a JSON SubmitStudy.", statusCode: 400, title: "Invalid request");
        if (ValidateFields(body, options.Value.ShareRoot) is { Count: > 0 } fieldErrors)
            return Results.ValidationProblem(fieldErrors, title: "The study cannot be submitted");
        var folderPath = string.IsNullOrWhiteSpace(body.FolderPath) ? null : body.FolderPath;
        var checksStarted = System.Diagnostics.Stopwatch.StartNew();   // one budget for the request's share checks
        var (answered, checkedBody) = await shareChecks.RunAsync(() => CheckInShare(body, folderPath, options.Value.ShareRoot!), ct, checksStarted);
        if (!answered) return ShareCheckGate.NotAnswered(request.HttpContext);
        var (errors, sourcePath) = checkedBody;
        if (errors.Count > 0) return Results.ValidationProblem(errors, title: "The study cannot be submitted");
        // The worker refuses another folder under a registered id; answered here, a refusal is not a 202.
        var registered = await queries.StudyByExternalIdAsync(body.StudyId!.Trim(), ct);
        bool registeredFolderGone = false;
        if (registered?.SourcePath is { } from)
        {
            (answered, registeredFolderGone) = await shareChecks.RunAsync(() => SharePaths.FolderGone(options.Value.ShareRoot!, from), ct, checksStarted);
            if (!answered) return ShareCheckGate.NotAnswered(request.HttpContext);
        }
        if (registered is not null && StudyIdentity.Conflict(body.StudyId.Trim(), registered.SourcePath, sourcePath, registeredFolderGone) is { } conflict)
            return Results.Problem(conflict, statusCode: 409, title: "The study id is taken");
        if (registered is null && await queries.LookalikeStudyAsync(body.StudyId.Trim(), ct) is { } lookalike)
            return Results.Problem(StudyIdentity.LookalikeConflict(body.StudyId.Trim(), lookalike), statusCode: 409,
                title: "The study id is taken");
        if (sourcePath is not null && await queries.OtherStudyOfFolderAsync(sourcePath, body.StudyId.Trim(), ct) is { } holder)
            return Results.Problem(StudyIdentity.FolderConflict(sourcePath, holder, body.StudyId.Trim()), statusCode: 409,
                title: "The folder is another study");
        var message = new SubmitStudy
        {
            StudyId = body.StudyId!.Trim(), FolderPath = folderPath, Images = folderPath is null ? body.Images : null, MicrometresPerPixel = body.MicrometresPerPixel,
            Device = body.Device, Reanalyze = body.Reanalyze,
        };
        var messageId = idempotencyKey.Length == 0 ? (Guid?)null : MessageIdOf(idempotencyKey, message);
        if (await BoundedPublish.TryPublishAsync(bus, message, messageId, "submission", ct) is { } notTaken)
        {
            request.HttpContext.Response.Headers.RetryAfter = "30";
            return Results.Problem(notTaken.NoQueue ? notTaken.WithAdvice("submit it again") + "."
                : $"{notTaken.Reason}; try again shortly (with the same Idempotency-Key, should it have arrived after all).",
                statusCode: 503, title: "Service unavailable");
        }
        return Results.Accepted($"/api/studies/{Uri.EscapeDataString(message.StudyId)}", new { studyId = message.StudyId, status = "submitted" });
    }

    private const int MaxIdempotencyKey = 200;

    /// <summary>
    /// The paths' problems, and the folder's source path where they have none: everything the submission asks of the
    /// share, for a body <see cref="ValidateFields"/> passed (so one of the two, a share root, not too many images).
    /// </summary>
    private static (Dictionary<string, string[]> Errors, string? SourcePath) CheckInShare(SubmitStudyRequest body, string? folderPath, string shareRoot)
    {
        var errors = ValidatePaths(body, shareRoot);
        if (errors.Count > 0 || folderPath is null) return (errors, null);
        // Resolved again: a folder renamed or unmounted since its check is the request's problem (400), not a 500 whose log names it.
        try { return (errors, SharePaths.StudySourcePath(shareRoot, folderPath)); }
        catch (Exception ex) when (ex is StudyLayoutException or IOException or UnauthorizedAccessException)
        {
            errors["folderPath"] = [ex is StudyLayoutException ? ex.Message : "The path cannot be read in the share."];
            return (errors, null);
        }
    }

    /// <summary>
    /// The most images one listed submission may name: each is resolved in the share (a file-system walk per path) as
    /// the request waits. A larger study is a folder.
    /// </summary>
    public const int MaxListedImages = 20_000;

    /// <summary>
    /// The message id a submission with an Idempotency-Key goes out under: a retry of a request whose answer was lost (a
    /// timeout after the broker took it) is then the same message, which a worker registers once (study_submissions).
    /// The body counts too: the same key sent with another body is another submission.
    /// </summary>
    private static Guid MessageIdOf(string idempotencyKey, SubmitStudy message)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(
            [.. System.Text.Encoding.ASCII.GetBytes($"nfc-submit-study:{idempotencyKey}\n"), .. System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(message)]);
        return new Guid(hash.AsSpan(0, 16));
    }

    /// <summary>The body's problems that need no look at the share (answered at once, even while the share hangs).</summary>
    public static Dictionary<string, string[]> ValidateFields(SubmitStudyRequest body, string? shareRoot)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body.StudyId)) errors["studyId"] = ["A study id is required."];
        else if (StudyIds.Problem(body.StudyId.Trim()) is { } problem) errors["studyId"] = [problem];
        if (body.MicrometresPerPixel is { } um && !Calibration.IsPlausible(um)) errors["micrometresPerPixel"] = [$"µm per pixel must be {Calibration.PlausibleRange}."];
        if (body.Device?.Contains('\0') ?? false) errors["device"] = ["The device cannot contain a NUL character."];
        var hasFolder = !string.IsNullOrWhiteSpace(body.FolderPath);
        var hasImages = body.Images is { Count: > 0 };
        if (hasFolder == hasImages) errors["folderPath"] = ["Give either folderPath or images (not both)."];
        else if (string.IsNullOrWhiteSpace(shareRoot)) errors["folderPath"] = ["The dashboard has no Dashboard:ShareRoot configured, so it cannot check paths."];
        else if (!hasFolder && body.Images!.Count > MaxListedImages)
            errors["images"] = [$"At most {MaxListedImages} images may be listed in one submission ({body.Images.Count} were); submit the study's folder instead."];
        return errors;
    }

    /// <summary>Why the folder, or a listed image, cannot be submitted from the share: for a body ValidateFields passed.</summary>
    private static Dictionary<string, string[]> ValidatePaths(SubmitStudyRequest body, string shareRoot)
    {
        var errors = new Dictionary<string, string[]>();
        if (!string.IsNullOrWhiteSpace(body.FolderPath))
        {
            if ((Resolve(shareRoot, body.FolderPath!) ?? StudyLayout.SubmissionProblem(shareRoot, body.FolderPath!, body.StudyId?.Trim())) is { } error)
                errors["folderPath"] = [error];
        }
        else
        {
            var resolved = new List<(string File, string Path)>();
            var imageErrors = body.Images!.Select((img, i) =>
                    img is null ? $"images[{i}]: must be an object with a patient and a path."
                    : string.IsNullOrWhiteSpace(img.Patient) ? $"images[{i}]: a patient is required."
                    : SharePaths.ListedNameProblem(img.Patient, img.Finger) is { } nameProblem ? $"images[{i}]: {nameProblem}."
                    : img.Path is null ? $"images[{i}]: a path is required."
                    : Resolve(shareRoot, img.Path, resolved) is { } e ? $"images[{i}]: {e}" : null)
                .OfType<string>().ToList();
            // One file twice is one image twice (two spellings of its path, or a link to it): the worker refuses the study.
            if (imageErrors.Count == 0)
                imageErrors.AddRange(resolved.GroupBy(r => r.File, StringComparer.Ordinal).Where(g => g.Count() > 1)
                    .Select(g => $"'{g.First().Path.Replace('\\', '/')}' is listed {g.Count()} times (as written, or by another path to the same file)."));
            if (imageErrors.Count > 0) errors["images"] = [.. imageErrors];
        }
        return errors;
    }

    /// <summary>Why <paramref name="path"/> cannot be submitted, or null; where given, <paramref name="resolved"/> takes the file it leads to.</summary>
    private static string? Resolve(string shareRoot, string path, List<(string File, string Path)>? resolved = null)
    {
        try
        {
            var file = SharePaths.ResolveUnder(shareRoot, path);
            // A listed image that is a folder was accepted here and failed only in the worker.
            if (resolved is not null && Directory.Exists(file)) return "The path names a folder, not an image file.";
            resolved?.Add((file, path));
            return null;
        }
        catch (StudyLayoutException ex) { return ex.Message; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return "The path cannot be read in the share."; }
    }

    private const int MaxListLimit = 500;

    /// <summary>
    /// The studies newest first (by registration order), in pages: <c>next</c> is the next page's URL, or null on the
    /// last. A bad filter is a 400 naming it, not an unfiltered list a script would take for the filtered one.
    /// </summary>
    private static async Task<IResult> List(ReportingQueries queries, string? state, long? before, int? limit, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (state is not null && !Pages.StudyPages.StudyStates.Contains(state)) errors["state"] = [$"state must be one of {string.Join(", ", Pages.StudyPages.StudyStates)}."];
        if (limit is < 1 or > MaxListLimit) errors["limit"] = [$"limit must be 1 to {MaxListLimit}."];
        if (before is < 1) errors["before"] = ["before must be a study's dbId (a positive number), as a page's next link gives it."];
        if (errors.Count > 0) return Results.ValidationProblem(errors, title: "The studies cannot be listed");
        var page = await queries.StudiesAsync(state, before, limit ?? 50, ct);
        var next = page.NextBefore is { } b
            ? $"/api/studies?{(state is null ? "" : $"state={state}&")}before={b}{(limit is { } l ? $"&limit={l}" : "")}" : null;
        return Results.Ok(new { studies = page.Rows.Select(Summary), next });
    }

    /// <param name="since">Only a refusal at or after it answers (a client that resubmits a refused folder passes its
    /// POST's time, or it would read the earlier refusal).</param>
    private static async Task<IResult> Status(ReportingQueries queries, string id, DateTimeOffset? since, CancellationToken ct)
    {
        var s = await queries.StudyByExternalIdAsync(id, ct);
        if (s is null)
            // A client waiting on a submission the worker refused would poll a 404 for ever: the refusal is the answer.
            return await queries.RegistrationRefusalAsync(null, id, since?.UtcDateTime ?? DateTime.MinValue, ct) is { } refusal
                ? Results.Problem($"There is no study '{id}': a worker refused its submission: {refusal.Reason}", statusCode: 404,
                    title: "The submission was refused", extensions: new Dictionary<string, object?>
                    {
                        ["refusal"] = refusal.Reason,
                        ["refusedAt"] = refusal.RefusedAt,
                    })
                : Results.Problem($"There is no study '{id}' (yet: a submitted study appears once a worker registers it).", statusCode: 404);
        var patients = await queries.PatientsAsync(s.Id, ct);
        return Results.Ok(new StudyDetail(Summary(s), patients.Select(p => new
        {
            id = p.Id, code = p.Code, state = p.State, images = p.Images, succeeded = p.Succeeded, failed = p.Failed, pattern = p.Pattern,
            densityMean = p.DensityMean, model = p.Model,
        })));
    }

    private static StudySummary Summary(StudyProgress s) => new(s.ExternalId, s.Id, s.State, s.Images, s.Succeeded, s.Failed, s.Remaining,
        s.PercentDone, s.CreatedAt, s.RegisteredAt, s.CompletedAt, s.SourcePath, s.UmPerPx, s.AnalysisUmPerPx, s.Device);

    /// <summary>
    /// A study's progress as the API answers it (camelCase JSON). SourcePath: its folder in the share (null for a list
    /// of images); UmPerPx: its own calibration, AnalysisUmPerPx: the one its images are measured at.
    /// </summary>
    private record StudySummary(string StudyId, long DbId, string State, long Images, long Succeeded, long Failed, long Remaining,
        double PercentDone, DateTime CreatedAt, DateTime RegisteredAt, DateTime? CompletedAt, string? SourcePath, double? UmPerPx,
        double? AnalysisUmPerPx, string? Device);

    /// <summary>One study's answer: its summary and, after it, its patients.</summary>
    private sealed record StudyDetail : StudySummary
    {
        public StudyDetail(StudySummary summary, IEnumerable<object> patients) : base(summary) => Patients = patients;

        [System.Text.Json.Serialization.JsonPropertyOrder(1)]
        public IEnumerable<object> Patients { get; }
    }
}
