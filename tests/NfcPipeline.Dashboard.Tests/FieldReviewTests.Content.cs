using System.Net;
using System.Net.Http.Json;

namespace NfcPipeline.Dashboard.Tests;

public partial class FieldReviewTests
{
    [Fact]
    public async Task An_exclusion_written_for_content_since_replaced_is_refused_and_the_audit_names_the_content()
    {
        // The file replaced and the study resubmitted keep the image's row: a reason written for the old pixels (an air
        // bubble) landed on the new ones, and the audit log could not tell which content was left out.
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);   // loopback: the local user is an operator
        var imageId = data.ImageIds[0];
        var shown = await data.Database.ScalarAsync<string>($"select encode(sha256, 'hex') from images where id = {imageId}");
        using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
        var page = await client.GetStringAsync($"/patients/{data.PatientId}");
        Assert.Contains($"<input type=\"hidden\" name=\"sha256\" value=\"{shown}\">", page);
        var token = AntiforgeryField().Match(page).Groups[1].Value;

        // Replaced since the page was shown.
        await data.Database.ScalarAsync<int>($"update images set sha256 = sha256('new pixels'::bytea) where id = {imageId}; select 1");
        var stale = await client.PostAsync($"/images/{imageId}/exclude",
            new FormUrlEncodedContent([new("__af", token), new("sha256", shown), new("reason", "air bubble over the distal row")]));
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Contains("its file was replaced since it was shown", await stale.Content.ReadAsStringAsync());
        Assert.Null(await data.Database.ScalarAsync<string>($"select qc_exclusion from images where id = {imageId}"));
        var malformed = await client.PostAsync($"/images/{imageId}/exclude",
            new FormUrlEncodedContent([new("__af", token), new("sha256", "xyz"), new("reason", "air bubble")]));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);

        // The API alike; without sha256 (a script's choice) the exclusion is made, and the audit names the content.
        var field = Uri.EscapeDataString("P01/L2/f1.png");
        var conflict = await client.PutAsJsonAsync($"/api/studies/{TestData.StudyExternalId}/exclusions?field={field}", new { reason = "air bubble", sha256 = shown });
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        var badHash = await client.PutAsJsonAsync($"/api/studies/{TestData.StudyExternalId}/exclusions?field={field}", new { reason = "air bubble", sha256 = "12" });
        Assert.Equal(HttpStatusCode.BadRequest, badHash.StatusCode);
        Assert.Contains("sha256", await badHash.Content.ReadAsStringAsync());
        // A field it does not know (results.csv's column name), or an empty hash, is refused, not taken for "not sent".
        var misnamed = await client.PutAsJsonAsync($"/api/studies/{TestData.StudyExternalId}/exclusions?field={field}", new { reason = "air bubble", image_sha256 = shown });
        Assert.Equal(HttpStatusCode.BadRequest, misnamed.StatusCode);
        Assert.Contains("image_sha256", await misnamed.Content.ReadAsStringAsync());
        var empty = await client.PutAsJsonAsync($"/api/studies/{TestData.StudyExternalId}/exclusions?field={field}", new { reason = "air bubble", sha256 = "" });
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Null(await data.Database.ScalarAsync<string>($"select qc_exclusion from images where id = {imageId}"));
        var current = await data.Database.ScalarAsync<string>($"select encode(sha256, 'hex') from images where id = {imageId}");
        var (bus, received) = await ListenAsync(data.PatientId);   // a queue for the request to recompute
        try
        {
            var made = await client.PutAsJsonAsync($"/api/studies/{TestData.StudyExternalId}/exclusions?field={field}", new { reason = "air bubble", sha256 = current });
            Assert.Equal(HttpStatusCode.OK, made.StatusCode);
            await WaitForAsync(received, 1);
        }
        finally { await bus.StopAsync(); }
        Assert.Equal(current, await data.Database.ScalarAsync<string>(
            "select details ->> 'sha256' from audit_log where action = 'exclude_field' order by id desc limit 1"));
    }
}
