using MassTransit;
using System.Net;
using System.Text.RegularExpressions;
using NfcPipeline.Dashboard.Security;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Deleting a study entered by mistake: the API, the study page's form and `nfc delete-study`, against real PostgreSQL.</summary>
public partial class StudyDeletionTests
{
    private const string OperatorKey = "operator-key-for-deletion-tests";

    private static Dictionary<string, string?> Settings() => new()
    {
        ["Dashboard:ApiKeys:0:Name"] = "ops", ["Dashboard:ApiKeys:0:KeySha256"] = DashboardAuthHandler.Sha256Hex(OperatorKey), ["Dashboard:ApiKeys:0:Role"] = "operator",
        ["Dashboard:ApiKeys:1:Name"] = "viewer", ["Dashboard:ApiKeys:1:KeySha256"] = DashboardAuthHandler.Sha256Hex("viewer-key"), ["Dashboard:ApiKeys:1:Role"] = "read-only",
    };

    [Fact]
    public async Task The_api_deletes_a_finished_study_and_its_rows_but_keeps_content_results_and_refuses_a_processing_one()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings());
        using var client = host.Client();
        client.DefaultRequestHeaders.Add("X-Api-Key", OperatorKey);
        var path = $"/api/studies/{TestData.StudyExternalId}";
        var metrics = await data.Database.ScalarAsync<long>("select count(*) from image_metrics");

        Assert.Equal(HttpStatusCode.Conflict, (await client.DeleteAsync(path)).StatusCode);   // still processing
        await data.Database.ScalarAsync<int>($"update studies set state = 'completed' where id = {data.StudyId}; select 1");
        using (var viewer = host.Client())
        {
            viewer.DefaultRequestHeaders.Add("X-Api-Key", "viewer-key");
            Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync(path)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync(path)).StatusCode);

        Assert.Equal(0L, await data.Database.ScalarAsync<long>($"select count(*) from studies where id = {data.StudyId}"));
        Assert.Equal(0L, await data.Database.ScalarAsync<long>($"select (select count(*) from patients where study_id = {data.StudyId}) + (select count(*) from images where study_id = {data.StudyId}) + (select count(*) from jobs where study_id = {data.StudyId})"));
        Assert.Equal(metrics, await data.Database.ScalarAsync<long>("select count(*) from image_metrics"));   // keyed by content: kept
        Assert.True(Directory.EnumerateFiles(data.ShareRoot, "*", SearchOption.AllDirectories).Any());    // the share untouched
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync(path)).StatusCode);

        // Recorded once (the refused and repeated calls are not): who, which study, what went with it; shown on /audit.
        Assert.Equal(1L, await data.Database.ScalarAsync<long>("select count(*) from audit_log"));
        Assert.Equal("dashboard:ops (api-key)|delete_study|STUDY-A|2", await data.Database.ScalarAsync<string>(
            "select actor || '|' || action || '|' || subject || '|' || (details ->> 'patients') from audit_log"));
        var audit = await client.GetStringAsync("/audit");
        Assert.Contains("<td>dashboard:ops (api-key)</td><td>delete_study</td><td>STUDY-A</td>", audit);
    }

    [Fact]
    public async Task The_study_page_offers_an_operator_the_delete_form_once_the_study_is_finished()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);   // loopback: the local user is an operator
        using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
        Assert.DoesNotContain("id=\"delete-study\"", await client.GetStringAsync($"/studies/{data.StudyId}"));   // processing

        await data.Database.ScalarAsync<int>($"update studies set state = 'completed_with_errors' where id = {data.StudyId}; select 1");
        var page = await client.GetStringAsync($"/studies/{data.StudyId}");
        Assert.Contains("id=\"delete-study\"", page);
        var token = AntiforgeryField().Match(page).Groups[1].Value;
        Assert.Contains("name=\"confirm\" value=\"yes\" required", page);   // the confirmation needs no JavaScript
        // Submitted again meanwhile: nothing is deleted, and the page says why.
        await data.Database.ScalarAsync<int>($"update studies set state = 'processing' where id = {data.StudyId}; select 1");
        var refused = await client.PostAsync($"/studies/{data.StudyId}/delete", new FormUrlEncodedContent([new("__af", token), new("confirm", "yes")]));
        Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.Contains("<p class=\"flash\">Study STUDY-A is processing (submitted again since the page was shown); nothing was deleted.</p>",
            await client.GetStringAsync(refused.Headers.Location!.OriginalString));
        Assert.Equal(1L, await data.Database.ScalarAsync<long>($"select count(*) from studies where id = {data.StudyId}"));
        await data.Database.ScalarAsync<int>($"update studies set state = 'completed_with_errors' where id = {data.StudyId}; select 1");
        var unconfirmed = await client.PostAsync($"/studies/{data.StudyId}/delete", new FormUrlEncodedContent([new("__af", token)]));
        Assert.Equal(HttpStatusCode.BadRequest, unconfirmed.StatusCode);
        Assert.Contains("nothing was deleted", await unconfirmed.Content.ReadAsStringAsync());
        Assert.Equal(1L, await data.Database.ScalarAsync<long>($"select count(*) from studies where id = {data.StudyId}"));
        var post = await client.PostAsync($"/studies/{data.StudyId}/delete",
            new FormUrlEncodedContent([new("__af", token), new("confirm", "yes")]));

        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
        var location = post.Headers.Location!.OriginalString;
        Assert.StartsWith("/studies?message=", location);
        Assert.DoesNotContain("STUDY-A", location);   // the notice travels protected
        Assert.Matches(@"<p class=""flash"">Deleted study STUDY-A: \d+ patient\(s\), \d+ image\(s\)\.</p>", await client.GetStringAsync(location));
        // A crafted link cannot put words on the dashboard: a notice the dashboard did not issue is not shown.
        Assert.DoesNotContain("class=\"flash\"", await client.GetStringAsync("/studies?message=" + Uri.EscapeDataString("Session expired: sign in at example.org")));
        Assert.Equal(0L, await data.Database.ScalarAsync<long>($"select count(*) from studies where id = {data.StudyId}"));
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync($"/studies/{data.StudyId}/delete", new FormUrlEncodedContent([]))).StatusCode);
    }

    [Fact]
    public async Task An_operator_can_submit_a_study_with_failed_images_again_from_its_page()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        var received = new TaskCompletionSource<NfcPipeline.Contracts.SubmitStudy>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(NfcPipeline.IntegrationTests.Infrastructure.TestServices.RabbitUri);
            cfg.ReceiveEndpoint("nfc-test-dashboard-retry-" + Guid.NewGuid().ToString("N")[..8], e =>
            {
                e.AutoDelete = true;
                e.Handler<NfcPipeline.Contracts.SubmitStudy>(ctx =>
                {
                    // Without a device: JobAdminTests retries a study of the same id, with one, on the same broker at once.
                    if (ctx.Message.StudyId == TestData.StudyExternalId && ctx.Message.Device is null) received.TrySetResult(ctx.Message);
                    return Task.CompletedTask;
                });
            });
        });
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        try
        {
            using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
            Assert.DoesNotContain("id=\"retry-failed\"", await client.GetStringAsync($"/studies/{data.StudyId}"));   // processing
            await data.Database.ScalarAsync<int>($"update studies set state = 'completed_with_errors' where id = {data.StudyId}; select 1");
            var page = await client.GetStringAsync($"/studies/{data.StudyId}");
            var post = await client.PostAsync($"/studies/{data.StudyId}/retry-failed",
                new FormUrlEncodedContent([new("__af", AntiforgeryField().Match(page).Groups[1].Value)]));

            Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
            var message = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
            // No calibration: the study's holds over a submission that gives none (StudyCalibration).
            Assert.Equal(("studyA", (double?)null, false), (message.FolderPath, message.MicrometresPerPixel, message.Reanalyze));
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task Nfc_delete_study_asks_for_yes_names_an_unknown_study_and_deletes_a_finished_one()
    {
        await using var data = await TestData.CreateAsync();
        var connection = data.Database.ConnectionString;

        var unconfirmed = await NfcProcess.RunAsync("delete-study", TestData.StudyExternalId, "--connection", connection);
        Assert.Equal(2, unconfirmed.Code);
        Assert.Contains("run it again with --yes", unconfirmed.Err);
        Assert.Equal(1, (await NfcProcess.RunAsync("delete-study", TestData.StudyExternalId, "--yes", "--connection", connection)).Code);   // processing
        Assert.Contains("there is no study 'NOPE'", (await NfcProcess.RunAsync("delete-study", "NOPE", "--yes", "--connection", connection)).Err);

        await data.Database.ScalarAsync<int>($"update studies set state = 'completed' where id = {data.StudyId}; select 1");
        var deleted = await NfcProcess.RunAsync("delete-study", TestData.StudyExternalId, "--yes", "--connection", connection);
        Assert.True(deleted.Code == 0, deleted.Err);
        Assert.Matches(@"^Deleted study STUDY-A: \d+ patient\(s\), \d+ image\(s\)\.", deleted.Out);
        Assert.Equal(0L, await data.Database.ScalarAsync<long>($"select count(*) from studies where id = {data.StudyId}"));
        Assert.Equal($"cli:{Environment.UserName}@{Environment.MachineName}", await data.Database.ScalarAsync<string>(
            "select actor from audit_log where action = 'delete_study' and subject = 'STUDY-A'"));
    }

    [GeneratedRegex("name=\"__af\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
