using System.Net;
using System.Text;
using System.Text.Json;
using NfcPipeline.Dashboard.Api;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Requests over the limits, or that cannot bind, get a 4xx that says why: never a 500 or an empty body.</summary>
public class RequestLimitsTests
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Oversized_bodies_too_long_image_lists_and_an_empty_Idempotency_Key_are_client_errors()
    {
        await using var data = await TestData.CreateAsync();
        // The limit lowered, so that a body over it still fits the socket's buffers and the client reads the answer.
        var settings = ApiTests.Settings(data);
        settings["Dashboard:MaxJsonBodyBytes"] = "65536";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        using var client = ApiTests.Keyed(host);

        // Over the JSON limit: a 413 problem (Kestrel's own error, which the handler turned into a 500 before).
        var huge = await client.PostAsync("/api/studies",
            Json($$"""{"studyId":"X","folderPath":"studyA","device":"{{new string('a', 70_000)}}"}"""));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        Assert.Equal("application/problem+json", huge.Content.Headers.ContentType?.MediaType);
        Assert.Contains("larger than this endpoint takes", await huge.Content.ReadAsStringAsync());
        var exclusion = await client.PutAsync("/api/studies/X/exclusions?field=P01-L2-f1",
            Json($$"""{"reason":"{{new string('r', 70_000)}}"}"""));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, exclusion.StatusCode);

        // More images than one listed submission may name: refused before any path is looked up (under the default limit).
        await using var defaults = await DashboardHost.StartAsync(data.Database.ConnectionString, ApiTests.Settings(data));
        using var keyed = ApiTests.Keyed(defaults);
        var images = Enumerable.Range(0, StudiesApi.MaxListedImages + 1).Select(i => new { path = $"studyA/P01/L2/f{i}.png", patient = "P01" });
        var many = await keyed.PostAsync("/api/studies", Json(JsonSerializer.Serialize(new { studyId = "X", images })));
        Assert.Equal(HttpStatusCode.BadRequest, many.StatusCode);
        var errors = JsonDocument.Parse(await many.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        Assert.StartsWith($"At most {StudiesApi.MaxListedImages} images", errors.GetProperty("images")[0].GetString());

        // A key header sent empty: a client that meant one would otherwise lose its retries' safety unsaid.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/studies") { Content = Json("""{"studyId":"X","folderPath":"studyA"}""") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", "");
        var empty = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Contains("Idempotency-Key", await empty.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_page_whose_query_does_not_bind_says_so_and_an_overlay_width_out_of_range_is_refused()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:ShareRoot"] = data.ShareRoot });
        using var client = host.Client();

        foreach (var url in new[] { "/studies?before=abc", "/jobs?before=1x" })
        {
            var response = await client.GetAsync(url);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.StartsWith("Bad request: a value in the address", await response.Content.ReadAsStringAsync());
        }
        // The overlay, which scripts fetch, answers problem details as the API does (as it does for ?width=0).
        foreach (var query in new[] { "width=abc", "model=abc" })
        {
            var response = await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png?{query}");
            Assert.Equal((HttpStatusCode.BadRequest, "application/problem+json"), (response.StatusCode, response.Content.Headers.ContentType?.MediaType));
        }

        foreach (var width in new[] { 0, -5, PatientReportPageWidthLimit + 1 })
        {
            var response = await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}&width={width}");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains($"width must be 1 to {PatientReportPageWidthLimit} pixels", await response.Content.ReadAsStringAsync());
        }
        var widest = await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}&width={PatientReportPageWidthLimit}");
        Assert.Equal(HttpStatusCode.OK, widest.StatusCode);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // symbolic links as the share's deployments use them
    public async Task The_overlay_follows_a_share_link_that_was_re_pointed()
    {
        // The share's real path was taken once: a share link re-pointed (a remount elsewhere) failed every overlay as
        // undecodable until the dashboard restarted.
        await using var data = await TestData.CreateAsync();
        var links = Directory.CreateTempSubdirectory("nfc-share-link-");
        try
        {
            var link = Path.Combine(links.FullName, "share");
            Directory.CreateSymbolicLink(link, data.ShareRoot);
            await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
                new Dictionary<string, string?> { ["Dashboard:ShareRoot"] = link });
            using var client = host.Client();
            var url = $"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}";
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(url)).StatusCode);

            var copy = Path.Combine(links.FullName, "moved");
            CopyTree(data.ShareRoot, copy);
            File.Delete(link);
            Directory.CreateSymbolicLink(link, copy);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(url)).StatusCode);
        }
        finally { links.Delete(recursive: true); }
    }

    private const int PatientReportPageWidthLimit = NfcPipeline.Dashboard.Pages.PatientReportPage.MaxOverlayWidth;

    private static void CopyTree(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }
}
