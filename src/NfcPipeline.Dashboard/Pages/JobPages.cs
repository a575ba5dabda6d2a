using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Dashboard.Html;
using NfcPipeline.Dashboard.Security;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Pages;

/// <summary>Jobs by state with counts, filters and keyset paging; job detail; requeue and delete of failed jobs.</summary>
public static class JobPages
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/jobs", List);
        app.MapGet("/jobs/{id:long}", Detail);
        app.MapPost("/jobs/requeue", Requeue).RequireAuthorization(DashboardRoles.OperatorPolicy);
        app.MapPost("/jobs/delete", Delete).RequireAuthorization(DashboardRoles.OperatorPolicy);
    }

    private static async Task<IResult> List(HttpContext context, JobAdmin jobs, string? state, string? kind, string? study, long? before, string? message, CancellationToken ct)
    {
        state = JobAdmin.ListedStates.Contains(state) ? state! : "failed";
        kind = JobAdmin.Kinds.Contains(kind) ? kind : null;
        study = string.IsNullOrWhiteSpace(study) ? null : study.Trim();
        var counts = await jobs.CountsAsync(kind, study, ct);
        var page = await jobs.ListAsync(new JobFilter(state, kind, study, before), ct);
        string Link(string s, long? b = null) => $"/jobs?state={s}&kind={H.Q(kind)}&study={H.Q(study)}" + (b is null ? "" : $"&before={b}");

        var tabs = H.Each(JobAdmin.ListedStates, s => H.Html($"<a class=\"tab{(s == state ? " current" : "")}\" id=\"tab-{s}\" href=\"{Link(s)}\">{s} <span class=\"count\">{counts[s]}</span></a>"));
        var kindOptions = H.Each(JobAdmin.Kinds.Prepend(""), k => H.Html($"<option value=\"{k}\"{(k == (kind ?? "") ? HtmlText.Trusted(" selected") : HtmlText.Empty)}>{(k == "" ? "any kind" : k)}</option>"));
        var canAct = state == "failed" && Layout.IsOperator(context);
        var rows = H.Each(page.Rows, j => H.Html($"""
            <tr id="job-{j.Id}" data-state="{j.State}">
              {H.When(canAct, () => H.Html($"<td><input type=\"checkbox\" name=\"ids\" value=\"{j.Id}\" form=\"bulk\" aria-label=\"select job {j.Id}\"></td>"))}
              <td><a href="/jobs/{j.Id}">#{j.Id}</a></td><td>{j.Kind}</td><td>{Layout.StateBadge(j.State)}</td>
              <td>{H.When(j.StudyId is not null, () => H.Html($"<a href=\"/studies/{j.StudyId}\">{j.Study}</a>"))}</td>
              <td>{j.Attempts}</td><td>{j.UpdatedAt}</td><td>{H.Duration(j.Duration)}</td><td>{j.WorkerId}</td>
              <td class="error">{Truncate(j.LastError)}</td>
              {H.When(canAct, () => H.Html($"""<td class="actions"><form method="post" action="/jobs/requeue">{Layout.Antiforgery(context)}<input type="hidden" name="ids" value="{j.Id}"><button type="submit" class="requeue">Requeue</button></form></td>"""))}
            </tr>
            """));
        var bulk = H.When(canAct, () => H.Html($"""
            <form id="bulk" method="post" action="/jobs/requeue" class="bulk">{Layout.Antiforgery(context)}
              <input type="hidden" name="kind" value="{kind}"><input type="hidden" name="study" value="{study}">
              <button type="submit" name="scope" value="selected">Requeue selected</button>
              <button type="submit" name="scope" value="all">Requeue all failed{(kind is null && study is null ? "" : " (filtered)")}</button>
              <button type="submit" formaction="/jobs/delete" name="scope" value="selected" class="danger">Delete selected</button>
            </form>
            """));
        var body = H.Html($"""
            {Flash.Show(context, message)}
            <nav class="tabs">{tabs}</nav>
            <form method="get" action="/jobs" class="filters"><input type="hidden" name="state" value="{state}">
              <label>Kind <select name="kind">{kindOptions}</select></label>
              <label>Study <input name="study" value="{study}" placeholder="study id"></label>
              <button type="submit">Filter</button></form>
            {bulk}
            <table class="jobs"><thead><tr>{H.When(canAct, () => HtmlText.Trusted("<th><input type=\"checkbox\" class=\"select-all\" aria-label=\"select all\"></th>"))}
              <th>Job</th><th>Kind</th><th>State</th><th>Study</th><th>Attempts</th><th>Updated</th><th>Ran for</th><th>Worker</th><th>Last error</th>{H.When(canAct, () => HtmlText.Trusted("<th></th>"))}</tr></thead>
            <tbody>{rows}</tbody></table>
            {H.When(page.Rows.Count == 0, () => HtmlText.Trusted("<p class=\"empty\">No jobs in this state.</p>"))}
            {H.When(page.NextBefore is not null, () => H.Html($"<p><a class=\"next\" href=\"{Link(state, page.NextBefore)}\">Older →</a></p>"))}
            """);
        return Layout.Page(context, $"Jobs: {state}", body);
    }

    private static async Task<IResult> Detail(HttpContext context, JobAdmin jobs, long id, CancellationToken ct)
    {
        var j = await jobs.GetAsync(id, ct);
        if (j is null) return Layout.NotFound(context, $"There is no job #{id}.");
        var actions = H.When(j.State == "failed" && Layout.IsOperator(context), () => H.Html($"""
            <form method="post" action="/jobs/requeue" class="inline">{Layout.Antiforgery(context)}<input type="hidden" name="ids" value="{j.Id}"><button type="submit">Requeue</button></form>
            <form method="post" action="/jobs/delete" class="inline">{Layout.Antiforgery(context)}<input type="hidden" name="ids" value="{j.Id}"><button type="submit" class="danger">Delete</button></form>
            """));
        var body = H.Html($"""
            <table class="detail">
              <tr><th>State</th><td id="job-state">{Layout.StateBadge(j.State)}</td></tr>
              <tr><th>Kind</th><td>{j.Kind}</td></tr>
              <tr><th>Study</th><td>{H.When(j.StudyId is not null, () => H.Html($"<a href=\"/studies/{j.StudyId}\">{j.Study}</a>"))}</td></tr>
              <tr><th>Attempts</th><td>{j.Attempts}</td></tr>
              <tr><th>Worker</th><td>{j.WorkerId}</td></tr>
              <tr><th>Created</th><td>{j.CreatedAt}</td></tr><tr><th>Enqueued</th><td>{j.EnqueuedAt}</td></tr>
              <tr><th>Started</th><td>{j.StartedAt}</td></tr><tr><th>Finished</th><td>{j.FinishedAt}</td></tr>
              <tr><th>Ran for</th><td>{H.Duration(j.Duration)}</td></tr><tr><th>Updated</th><td>{j.UpdatedAt}</td></tr>
            </table>
            <h2>Error</h2><pre class="error">{j.LastError ?? "none"}</pre>
            <h2>Payload</h2><pre>{j.Payload}</pre>
            {actions}
            <p><a href="/jobs?state={j.State}">Back to {j.State} jobs</a></p>
            """);
        return Layout.Page(context, $"Job #{j.Id}", body);
    }

    private static async Task<IResult> Requeue(HttpContext context, JobAdmin jobs, IPublishEndpoint bus, CancellationToken ct)
    {
        if (!await Layout.AntiforgeryValidAsync(context)) return Layout.BadForm();
        var form = await context.Request.ReadFormAsync(ct);
        using var publisher = new StallGuardedPublisher(bus);
        var (kind, study) = (Blank(form["kind"]), Blank(form["study"]));
        // A kind no job has would widen "all failed of kind K" to every kind.
        if (kind is not null && !JobAdmin.Kinds.Contains(kind)) return Results.Content($"Unknown job kind '{kind}': nothing was requeued.", "text/plain; charset=utf-8", statusCode: 400);
        var back = $"/jobs?state=failed&kind={H.Q(kind)}&study={H.Q(study)}";
        RequeueResult result;
        try
        {
            result = form["scope"] == "all"
                ? await jobs.RequeueAllFailedAsync(kind, study, AuditActor.Of(context), publisher.PublishAsync, ct)
                : await jobs.RequeueAsync(Ids(form), AuditActor.Of(context), publisher.PublishAsync, ct);
        }
        catch (BrokerUnavailableException ex)
        {
            return Flash.Redirect(context, back, $"Nothing was requeued: {ex.Message}. Try again shortly (a job whose message went out " +
                "before that stays failed: its message finds it so and does nothing).");
        }
        var message = $"Requeued {result.Requeued.Count} job(s)." + (result.Skipped.Count == 0 ? "" : $" {result.Skipped.Count} skipped: {result.Skipped[0].Reason}.") +
            (result.MoreMatched ? $" More matched than one requeue takes ({JobAdmin.BulkLimit:N0}): press it again for the rest." : "");
        return Flash.Redirect(context, back, message);
    }

    private static async Task<IResult> Delete(HttpContext context, JobAdmin jobs, IPublishEndpoint bus, CancellationToken ct)
    {
        if (!await Layout.AntiforgeryValidAsync(context)) return Layout.BadForm();
        var form = await context.Request.ReadFormAsync(ct);
        var actor = AuditActor.Of(context);
        var deletion = await jobs.DeleteAsync(Ids(form), actor, ct);
        // The images the deletion failed leave their patients processing: a worker completes them (and their study) now,
        // not the stranded sweep minutes later, while delete-study refuses the study and `enqueue --wait` waits.
        int asked = 0;
        PublishFailure? failure = null;
        foreach (var patient in deletion.PatientsToComplete)
        {
            failure = await BoundedPublish.TryPublishAsync(bus, new ReaggregatePatient(patient, actor), null, "request to complete the patient", ct);
            if (failure is not null) break;
            asked++;
        }
        var message = $"Deleted {deletion.Deleted} job(s)." + (deletion.PatientsToComplete.Count == 0 ? ""
            : failure is null ? $" {asked} patient(s) whose images they left unfinished are being completed."
            : $" {deletion.PatientsToComplete.Count - asked} patient(s) whose images they left unfinished were not asked to complete ({failure.Reason}): " +
              "a worker's stranded sweep completes them later.");
        return Flash.Redirect(context, "/jobs?state=failed", message);
    }

    private static List<long> Ids(IFormCollection form) =>
        form["ids"].Select(v => long.TryParse(v, out var id) ? id : -1).Where(id => id > 0).Distinct().ToList();

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string? Truncate(string? s) => s is { Length: > 160 } ? s[..160] + "…" : s;
}
