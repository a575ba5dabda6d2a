using Microsoft.Extensions.DependencyInjection.Extensions;
using NfcPipeline.Contracts;
using System.Diagnostics;
using System.Globalization;
using MassTransit;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using NfcPipeline.Dashboard.Api;
using NfcPipeline.Dashboard.Pages;
using NfcPipeline.Dashboard.Rendering;
using NfcPipeline.Dashboard.Security;
using NfcPipeline.Storage;
using NfcPipeline.Storage.Reporting;
using Npgsql;

namespace NfcPipeline.Dashboard.Hosting;

public static class DashboardServiceExtensions
{
    /// <summary>
    /// Registers everything the dashboard needs and binds Kestrel to Dashboard:Urls. Throws
    /// <see cref="DashboardConfigurationException"/> for a non-loopback binding without authentication.
    /// </summary>
    /// <summary>The largest form body the dashboard reads (RefuseNulInForms limits the whole body: its forms carry a few ids).</summary>
    public const int MaxFormBytes = 256 * 1024;

    public static WebApplicationBuilder AddDashboardServices(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var options = new DashboardOptions();
        config.GetSection(DashboardOptions.Section).Bind(options);
        var kestrelUrls = config.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>();
        BindingGuard.Validate(options, kestrelUrls);
        builder.WebHost.UseUrls(BindingGuard.SplitUrls(options.Urls).ToArray());
        // Request logs would carry study ids and paths; patient identifiers must stay out of logs.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("MassTransit", LogLevel.Warning);

        builder.Services.Configure<DashboardOptions>(config.GetSection(DashboardOptions.Section));
        builder.Services.Configure<StorageOptions>(config.GetSection(StorageOptions.Section));
        builder.Services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ResolveConnectionString()));
        builder.Services.AddSingleton<ReportingQueries>();
        builder.Services.AddSingleton<JobAdmin>();
        builder.Services.AddSingleton<StudyAdmin>();
        builder.Services.AddSingleton<FieldReview>();
        builder.Services.AddSingleton<OverlayService>();
        builder.Services.AddSingleton<Api.ExportGate>();
        builder.Services.AddSingleton<Api.ShareCheckGate>();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<FailedSignInLimiter>().AddSingleton<PasswordVerifier>();
        builder.Services.AddAuthentication(DashboardAuthHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, DashboardAuthHandler>(DashboardAuthHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(DashboardRoles.OperatorPolicy, p => p.RequireRole(DashboardRoles.Operator));
        builder.Services.AddAntiforgery(a => { a.Cookie = new AntiforgeryCookie(a.Cookie); a.FormFieldName = "__af"; });
        builder.Services.AddProblemDetails();
        // A query value that does not bind (limit=abc) is a 400 in every environment; Development threw it as a 500.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = false);

        Uri rabbitUri;
        try { rabbitUri = RabbitMqAddress.Resolve(config["Messaging:RabbitUri"]); }
        catch (UriFormatException ex) { throw new DashboardConfigurationException($"Messaging:RabbitUri (or NFC_RABBIT_URI) is not usable: {ex.Message}"); }
        builder.Services.AddMassTransit(x => x.UsingRabbitMq((_, cfg) => cfg.Host(rabbitUri)));
        return builder;
    }

    /// <summary>Middleware, static files, pages and the API.</summary>
    public static WebApplication MapDashboard(this WebApplication app)
    {
        // A fault answers with a bare problem, whatever the environment: never a developer page with a stack trace.
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = context =>
            {
                // Problem details for the API, as docs/api.md promises; a page's reader gets the sentence as text.
                Task Answer(string detail, int status, string? title = null) => AnswersProblemDetails(context.Request)
                    ? Results.Problem(detail, statusCode: status, title: title).ExecuteAsync(context)
                    : Results.Text(detail + "\n", "text/plain; charset=utf-8", statusCode: status).ExecuteAsync(context);
                // The database away is no defect: a 503 a script can tell from one and retry (Retry-After).
                var error = context.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
                // Transient only: a connection refused or lost, a server shutting down; a PostgresException of a query
                // (a constraint, a syntax error) is a defect, a 500.
                if (error is Npgsql.NpgsqlException { IsTransient: true } || error?.InnerException is Npgsql.NpgsqlException { IsTransient: true })
                {
                    context.Response.Headers.RetryAfter = "30";
                    return Answer("The database cannot be reached; try again shortly.", 503, "Service unavailable");
                }
                // A body over its limit (413) or cut short (400) as the API reads it: the client's fault, said as such.
                if (error is BadHttpRequestException bad)
                    return Answer(bad.StatusCode != StatusCodes.Status413PayloadTooLarge
                        ? "The request body cannot be read (malformed or cut short)."
                        : context.Request.HasJsonContentType()
                            ? $"The request body is larger than this endpoint takes ({MaxJsonBodyBytes(context)} bytes for JSON: Dashboard:MaxJsonBodyBytes)."
                            : "The request body is larger than the server takes.", bad.StatusCode, "Invalid request");
                // A dashboard upgraded before any worker migrated the database: said, not a bare 500.
                if (NfcPipeline.Storage.Migrations.SchemaBehind.Is(error))
                    return Answer("The database's schema is older than this dashboard: start a worker of this version, or run " +
                        "'nfc migrate', to bring it up to date.", 503, "Service unavailable");
                return Answer("The request failed on the server; its log says why.", 500);
            },
        });
        // An API answer without a body (an unknown route, a query value that does not bind) is problem details too, as
        // docs/api.md promises; pages write their own bodies.
        app.UseWhen(context => AnswersProblemDetails(context.Request), api => api.UseStatusCodePages());
        // A page's answer without a body (a query value that does not bind, such as ?before=abc) says what it is.
        app.UseWhen(context => !AnswersProblemDetails(context.Request), pages => pages.UseStatusCodePages(PlainStatusText));
        app.Use(ServerTimingAndSecurityHeaders);
        app.Use(RefuseNulInPathOrQuery);
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new EmbeddedFileProvider(typeof(DashboardServiceExtensions).Assembly, "NfcPipeline.Dashboard.wwwroot"),
            // The stylesheet and script hold no patient data: kept, and revalidated by their ETag (304), not sent whole
            // with every page as no-store would.
            OnPrepareResponse = files => files.Context.Response.Headers.CacheControl = "no-cache",
        });
        app.UseAuthentication();
        app.UseAuthorization();
        // Forms are read only once the caller may post them: before authorisation anyone could make the server parse
        // (and buffer) a body, and a malformed one was a 500.
        app.Use(RefuseNulInForms);
        app.Use(LimitJsonBodies);

        OverviewPage.Map(app);
        JobPages.Map(app);
        SharePage.Map(app);
        WorkersPage.Map(app);
        AuditPage.Map(app);
        StudyPages.Map(app);
        PatientReportPage.Map(app);
        FieldReviewPages.Map(app);
        StudiesApi.Map(app);
        StudyImagesApi.Map(app);
        PatientsApi.Map(app);
        ReviewApi.Map(app);
        return app;
    }

    /// <summary>
    /// No name, id or path holds a NUL, and PostgreSQL refuses one in text (a 500 deep in a query): a request that
    /// carries one in its path or query is a 400 here, and one in a form (<see cref="RefuseNulInForms"/>).
    /// </summary>
    private static Task RefuseNulInPathOrQuery(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        bool nul = (request.Path.Value?.Contains('\0') ?? false)
            || request.Query.Any(q => q.Key.Contains('\0') || q.Value.Any(v => v?.Contains('\0') ?? false));
        return nul ? BadRequest(context, "The request contains a NUL character.") : next();
    }

    private static long MaxJsonBodyBytes(HttpContext context) =>
        context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<DashboardOptions>>().Value.MaxJsonBodyBytes;

    /// <summary>JSON bodies are a few ids, or a list of image paths: far below Kestrel's 30 MB default.</summary>
    private static Task LimitJsonBodies(HttpContext context, Func<Task> next)
    {
        if (context.Request.HasJsonContentType()
            && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = MaxJsonBodyBytes(context);
        return next();
    }

    private static Task PlainStatusText(Microsoft.AspNetCore.Diagnostics.StatusCodeContext status)
    {
        var response = status.HttpContext.Response;
        string text = response.StatusCode switch
        {
            StatusCodes.Status400BadRequest => "Bad request: a value in the address (its path or query) is not of the kind this page takes, such as a number.",
            StatusCodes.Status404NotFound => "Not found: there is no such page.",
            StatusCodes.Status405MethodNotAllowed => "Method not allowed on this page.",
            _ => $"HTTP {response.StatusCode}.",
        };
        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync(text + "\n");
    }

    private static async Task RefuseNulInForms(HttpContext context, Func<Task> next)
    {
        if (context.Request.HasFormContentType)
        {
            // The whole body, however it is sent (chunked too): the dashboard's forms carry a few ids.
            if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = MaxFormBytes;
            IFormCollection form;
            try { form = await context.Request.ReadFormAsync(context.RequestAborted); }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                await Refuse(context, 413, $"The form is larger than the dashboard's forms take ({MaxFormBytes / 1024} KiB).");
                return;
            }
            catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException or IOException)
            {
                await BadRequest(context, "The form cannot be read (malformed, or over the size limits).");
                return;
            }
            if (form.Files.Count > 0)
            {
                await BadRequest(context, "The dashboard's forms take no files.");
                return;
            }
            if (form.Any(f => f.Key.Contains('\0') || f.Value.Any(v => v?.Contains('\0') ?? false)))
            {
                await BadRequest(context, "The request contains a NUL character.");
                return;
            }
        }
        await next();
    }

    /// <summary>
    /// The API and the overlay image, which scripts fetch (docs/api.md, docs/dashboard.md), answer errors as problem
    /// details; pages answer them as text.
    /// </summary>
    internal static bool AnswersProblemDetails(HttpRequest request) =>
        request.Path.StartsWithSegments("/api")
        || (request.Path.StartsWithSegments("/images") && request.Path.Value!.EndsWith("/overlay.png", StringComparison.Ordinal));

    private static Task BadRequest(HttpContext context, string detail) => Refuse(context, 400, detail);

    /// <summary>A refused request, as problem details for the API and the overlay, as text for a page (a browser showed raw JSON).</summary>
    private static Task Refuse(HttpContext context, int status, string detail) => AnswersProblemDetails(context.Request)
        ? Results.Problem(detail, statusCode: status, title: "Invalid request").ExecuteAsync(context)
        : Results.Content(detail + "\n", "text/plain; charset=utf-8", null, status).ExecuteAsync(context);

    /// <summary>Server-Timing carries the server-side time of every response (nfc bench dashboard reads it).</summary>
    private static Task ServerTimingAndSecurityHeaders(HttpContext context, Func<Task> next)
    {
        var watch = Stopwatch.StartNew();
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers["Server-Timing"] = "app;dur=" + watch.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            // Patient reports, exports and overlays stay out of shared workstations' caches, and other sites cannot
            // embed them (an <img> of an overlay on a page elsewhere, with the loopback user's rights).
            if (!headers.ContainsKey("Cache-Control")) headers.CacheControl = "no-store";
            headers["Cross-Origin-Resource-Policy"] = "same-origin";
            if (!headers.ContainsKey("Content-Security-Policy"))
                headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
            return Task.CompletedTask;
        });
        return next();
    }
}
