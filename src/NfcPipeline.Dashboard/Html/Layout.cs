using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Html;

/// <summary>The page frame and the small pieces every page shares.</summary>
public static class Layout
{
    private static readonly (string Href, string Label)[] Nav =
        [("/", "Overview"), ("/jobs", "Jobs"), ("/share", "Share"), ("/workers", "Workers"), ("/studies", "Studies"), ("/audit", "Audit")];

    public static IResult Page(HttpContext context, string title, HtmlText body)
    {
        var user = context.User;
        var nav = H.Each(Nav, n => H.Html($"<a href=\"{n.Href}\">{n.Label}</a>"));
        var html = H.Html($"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{title} · NFC dashboard</title><link rel="stylesheet" href="/css/site.css"><script src="/js/site.js" defer></script></head>
            <body><header><strong>NFC dashboard</strong><nav>{nav}</nav>
            <span class="user">{user.Identity?.Name} ({RoleOf(user)})</span></header>
            <main><h1>{title}</h1>{body}</main>
            <footer>Research use only: every figure here is computed automatically by a model and is not a diagnosis; each
            report names its model, and the model's card what it was trained and validated on.</footer></body></html>
            """);
        return Results.Content(html.Value, "text/html; charset=utf-8");
    }

    public static IResult NotFound(HttpContext context, string what) =>
        Results.Content(Page404(what), "text/html; charset=utf-8", null, StatusCodes.Status404NotFound);

    private static string Page404(string what) => H.Html($"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title><link rel=\"stylesheet\" href=\"/css/site.css\"></head><body><main><h1>Not found</h1><p>{what}</p><p><a href=\"/\">Overview</a></p></main></body></html>").Value;

    public static string RoleOf(ClaimsPrincipal user) => user.FindFirst(ClaimTypes.Role)?.Value ?? "";

    public static bool IsOperator(HttpContext context) => context.User.IsInRole(DashboardRoles.Operator);

    /// <summary>The hidden antiforgery field for a POST form.</summary>
    public static HtmlText Antiforgery(HttpContext context)
    {
        var tokens = context.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(context);
        return H.Html($"<input type=\"hidden\" name=\"{tokens.FormFieldName}\" value=\"{tokens.RequestToken}\">");
    }

    /// <summary>False when the form's antiforgery token is missing or wrong (the action is then refused with 400).</summary>
    public static async Task<bool> AntiforgeryValidAsync(HttpContext context)
    {
        // Every action is a form: a valid token sent in the header with no form body read the form into a 500.
        if (!context.Request.HasFormContentType) return false;
        try { await context.RequestServices.GetRequiredService<IAntiforgery>().ValidateRequestAsync(context); return true; }
        catch (AntiforgeryValidationException) { return false; }
    }

    public static IResult BadForm() => Results.Content("The form has expired or was not sent by this dashboard; reload the page and try again.",
        "text/plain; charset=utf-8", null, StatusCodes.Status400BadRequest);

    public static HtmlText StateBadge(string state) => H.Html($"<span class=\"state state-{state}\">{state}</span>");

    /// <summary>
    /// A field's density, marked when the field is ungradable or excluded at review: either leaves it out of the
    /// patient's mean, for its own reason.
    /// </summary>
    public static HtmlText FieldDensity(ImageRow image, string unit = "") => image switch
    {
        { DensityPerMm: null } => H.Html($"{H.Number(image.DensityPerMm)}{unit}"),
        { QcExclusion: not null } => H.Html($"<span class=\"excluded\" title=\"excluded at review: not in the patient's density\">{H.Number(image.DensityPerMm)}{unit} (excluded)</span>"),
        { Gradable: false } => H.Html($"<span class=\"ungradable\" title=\"ungradable field: not in the patient's density\">{H.Number(image.DensityPerMm)}{unit} (ungradable)</span>"),
        _ => H.Html($"{H.Number(image.DensityPerMm)}{unit}"),
    };

    public static HtmlText Progress(long done, long failed, long total)
    {
        var percent = StudyProgress.Percent(done + failed, total);
        return H.Html($"""<progress class="study-progress" value="{done + failed}" max="{Math.Max(total, 1)}" title="{done} done, {failed} failed of {total}"></progress> <span class="progress-text">{done}/{total} done{H.When(failed > 0, () => H.Html($", <span class=\"failed\">{failed} failed</span>"))} ({percent:0.#}% processed)</span>""");
    }
}
