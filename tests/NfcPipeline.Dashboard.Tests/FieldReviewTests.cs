using System.Net;
using System.Text.RegularExpressions;
using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Excluding a field at review from the patient page and with `nfc exclude-field`, against real PostgreSQL and RabbitMQ.</summary>
public partial class FieldReviewTests
{
    /// <summary>The ReaggregatePatient messages published for one test's patient.</summary>
    private static async Task<(IBusControl Bus, List<ReaggregatePatient> Received)> ListenAsync(long patientId)
    {
        var received = new List<ReaggregatePatient>();
        var bus = await MessageListener.StartAsync<ReaggregatePatient>("reaggregate", ctx =>
        {
            if (ctx.Message.PatientDbId == patientId) lock (received) received.Add(ctx.Message);
        });
        return (bus, received);
    }

    private static async Task WaitForAsync(List<ReaggregatePatient> received, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            lock (received) if (received.Count >= count) return;
            if (DateTime.UtcNow > deadline) Assert.Fail($"{count} ReaggregatePatient message(s) not received");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task An_operator_excludes_a_field_with_a_reason_on_the_patient_page_and_includes_it_again()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);   // loopback: the local user is an operator
        var (bus, received) = await ListenAsync(data.PatientId);
        try
        {
            using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
            var imageId = data.ImageIds[0];
            var page = await client.GetStringAsync($"/patients/{data.PatientId}");
            Assert.Contains($"action=\"/images/{imageId}/exclude\"", page);
            var token = AntiforgeryField().Match(page).Groups[1].Value;

            var noReason = await client.PostAsync($"/images/{imageId}/exclude", new FormUrlEncodedContent([new("__af", token), new("reason", " ")]));
            Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
            Assert.Null(await data.Database.ScalarAsync<string>($"select qc_exclusion from images where id = {imageId}"));

            var post = await client.PostAsync($"/images/{imageId}/exclude",
                new FormUrlEncodedContent([new("__af", token), new("reason", "  air bubble over the distal row ")]));
            Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
            Assert.StartsWith($"/patients/{data.PatientId}?message=", post.Headers.Location!.OriginalString);
            Assert.Contains("Field P01/L2/f1.png excluded", await client.GetStringAsync(post.Headers.Location!.OriginalString));
            await WaitForAsync(received, 1);
            Assert.StartsWith("air bubble over the distal row|dashboard:", await data.Database.ScalarAsync<string>(
                $"select qc_exclusion || '|' || qc_excluded_by from images where id = {imageId} and qc_excluded_at is not null"));
            Assert.Equal("air bubble over the distal row", await data.Database.ScalarAsync<string>(
                "select qc_exclusion from v_image_results where rel_path = 'P01/L2/f1.png'"));

            page = await client.GetStringAsync($"/patients/{data.PatientId}");
            Assert.Contains("Excluded at review: air bubble over the distal row", page);
            // No worker here: the stored figures predate the exclusion, and the page says so, with a way to ask again.
            Assert.Contains("id=\"review-pending\"", page);
            // The histograms already count the review, the tables not yet: the charts say so.
            Assert.Contains("the tables, the result computed before the review", page);
            // The patient's metrics through the API too, JSON and CSV (they showed the old figures without a sign).
            var metrics = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync($"/api/patients/{data.PatientId}/metrics")).RootElement;
            Assert.True(metrics.GetProperty("results")[0].GetProperty("reviewPending").GetBoolean());
            Assert.Contains(",summary,review_pending,true", await client.GetStringAsync($"/api/patients/{data.PatientId}/metrics.csv"));
            // The printable report too (it showed the old figures beside the field marked excluded, without a word).
            Assert.Contains("id=\"review-pending\"", await client.GetStringAsync($"/patients/{data.PatientId}/print"));
            Assert.Equal("1|true", await data.Database.ScalarAsync<string>(
                "select excluded_fields || '|' || review_pending::text from v_patient_summary where patient = 'P01'"));
            // The morphology and diameter views say so too (they showed the old figures without a sign).
            foreach (var view in new[] { "v_patient_morphology", "v_patient_diameters" })
                Assert.Equal("true|completed", await data.Database.ScalarAsync<string>(
                    $"select bool_and(review_pending)::text || '|' || min(patient_state) from {view} where patient = 'P01' having count(*) > 0"));
            // A failed field is counted once, among the failed, whatever exclusion it carries.
            Assert.Equal(0, await data.Database.ScalarAsync<int>(
                $"update images set state = 'failed' where id = {imageId}; select excluded_fields from v_patient_summary where patient = 'P01'"));
            await data.Database.ScalarAsync<int>($"update images set state = 'succeeded' where id = {imageId}; select 1");
            // So is a field without a result of the summary's model (analysed by another model only): counted twice before.
            Assert.Equal(0, await data.Database.ScalarAsync<int>(
                $"update images set result_um_per_px = 3.5 where id = {imageId}; select excluded_fields from v_patient_summary where patient = 'P01'"));
            Assert.Equal(1, await data.Database.ScalarAsync<int>(
                $"update images set result_um_per_px = 2.0 where id = {imageId}; select excluded_fields from v_patient_summary where patient = 'P01'"));
            var again = await client.PostAsync($"/patients/{data.PatientId}/reaggregate", new FormUrlEncodedContent([new("__af", token)]));
            Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
            await WaitForAsync(received, 2);
            await data.Database.ScalarAsync<int>($"update patient_metrics set computed_at = now() where patient_id = {data.PatientId}; select 1");
            Assert.DoesNotContain("id=\"review-pending\"", await client.GetStringAsync($"/patients/{data.PatientId}"));
            Assert.DoesNotContain("charts-out-of-step", await client.GetStringAsync($"/patients/{data.PatientId}"));
            await data.Database.ScalarAsync<int>($"update patients set state = 'processing' where id = {data.PatientId}; select 1");
            Assert.Contains("The patient is being analysed again: the diameter histograms count only the fields done so far",
                await client.GetStringAsync($"/patients/{data.PatientId}/print"));
            await data.Database.ScalarAsync<int>($"update patients set state = 'completed' where id = {data.PatientId}; select 1");
            Assert.DoesNotContain("id=\"review-pending\"", await client.GetStringAsync($"/patients/{data.PatientId}/print"));
            Assert.Contains($"action=\"/images/{imageId}/include\"", page);
            Assert.Contains("excluded at review: air bubble over the distal row", await client.GetStringAsync($"/patients/{data.PatientId}/print"));
            var include = await client.PostAsync($"/images/{imageId}/include", new FormUrlEncodedContent([new("__af", token)]));
            Assert.Equal(HttpStatusCode.Redirect, include.StatusCode);
            await WaitForAsync(received, 3);
            Assert.Equal(0L, await data.Database.ScalarAsync<long>($"select count(*) from images where id = {imageId} and (qc_exclusion is not null or qc_excluded_at is not null)"));

            Assert.Equal("exclude_field|STUDY-A|air bubble over the distal row;include_field|STUDY-A|", await data.Database.ScalarAsync<string>(
                "select string_agg(action || '|' || subject || '|' || coalesce(details ->> 'reason', ''), ';' order by id) from audit_log"));
            Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/images/999999/include", new FormUrlEncodedContent([new("__af", token)]))).StatusCode);

            // A failed field has no result to leave out: no form, and a post is refused without a change or an audit entry.
            var failed = data.ImageIds[2];
            Assert.DoesNotContain($"action=\"/images/{failed}/exclude\"", await client.GetStringAsync($"/patients/{data.ScriptPatientId}"));
            var refused = await client.PostAsync($"/images/{failed}/exclude", new FormUrlEncodedContent([new("__af", token), new("reason", "blurred")]));
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("no result to leave out", await refused.Content.ReadAsStringAsync());
            Assert.Null(await data.Database.ScalarAsync<string>($"select qc_exclusion from images where id = {failed}"));
            Assert.Equal(2L, await data.Database.ScalarAsync<long>("select count(*) from audit_log"));
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task A_read_only_user_gets_no_review_form_and_cannot_post_one()
    {
        await using var data = await TestData.CreateAsync();
        const string viewerKey = "viewer-key-for-review-tests";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, new Dictionary<string, string?>
        {
            ["Dashboard:ApiKeys:0:Name"] = "viewer", ["Dashboard:ApiKeys:0:KeySha256"] = Security.DashboardAuthHandler.Sha256Hex(viewerKey),
            ["Dashboard:ApiKeys:0:Role"] = "read-only",
        });
        using var client = host.Client();
        client.DefaultRequestHeaders.Add("X-Api-Key", viewerKey);

        Assert.DoesNotContain("/exclude\"", await client.GetStringAsync($"/patients/{data.PatientId}"));
        var post = await client.PostAsync($"/images/{data.ImageIds[0]}/exclude", new FormUrlEncodedContent([new("reason", "x")]));
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.Equal(0L, await data.Database.ScalarAsync<long>("select count(*) from images where qc_exclusion is not null"));
    }

    [Fact]
    public async Task Nfc_exclude_field_names_the_field_by_its_shown_path_needs_a_reason_and_include_field_takes_it_back()
    {
        await using var data = await TestData.CreateAsync();
        var (bus, received) = await ListenAsync(data.PatientId);
        try
        {
            var connection = data.Database.ConnectionString;
            var rabbit = NfcPipeline.IntegrationTests.Infrastructure.TestServices.RabbitUri.ToString();
            var noReason = await NfcProcess.RunAsync("exclude-field", TestData.StudyExternalId, "P01/R3/f1.png", "--connection", connection, "--rabbit", rabbit);
            Assert.Equal(2, noReason.Code);
            var unknown = await NfcProcess.RunAsync("exclude-field", TestData.StudyExternalId, "P01/R9/f1.png", "--reason", "blurred",
                "--connection", connection, "--rabbit", rabbit);
            Assert.Equal(1, unknown.Code);
            Assert.Contains("has no field 'P01/R9/f1.png'", unknown.Err);

            var excluded = await NfcProcess.RunAsync("exclude-field", TestData.StudyExternalId, "P01/R3/f1.png", "--reason", "the wrong finger",
                "--connection", connection, "--rabbit", rabbit);
            Assert.Equal(0, excluded.Code);
            Assert.Contains("Field P01/R3/f1.png excluded", excluded.Out);
            await WaitForAsync(received, 1);
            Assert.StartsWith("the wrong finger|cli:", await data.Database.ScalarAsync<string>(
                "select qc_exclusion || '|' || qc_excluded_by from images where rel_path = 'P01/R3/f1.png'"));

            var included = await NfcProcess.RunAsync("include-field", TestData.StudyExternalId, "P01/R3/f1.png", "--connection", connection, "--rabbit", rabbit);
            Assert.Equal(0, included.Code);
            await WaitForAsync(received, 2);
            Assert.Null(await data.Database.ScalarAsync<string>("select qc_exclusion from images where rel_path = 'P01/R3/f1.png'"));
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task The_api_excludes_a_field_named_by_its_path_and_includes_it_again_for_operators_only()
    {
        await using var data = await TestData.CreateAsync();
        const string operatorKey = "operator-key-for-review-tests", viewerKey = "viewer-key-for-review-api-tests";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, new Dictionary<string, string?>
        {
            ["Dashboard:ApiKeys:0:Name"] = "qc", ["Dashboard:ApiKeys:0:KeySha256"] = Security.DashboardAuthHandler.Sha256Hex(operatorKey),
            ["Dashboard:ApiKeys:0:Role"] = "operator",
            ["Dashboard:ApiKeys:1:Name"] = "viewer", ["Dashboard:ApiKeys:1:KeySha256"] = Security.DashboardAuthHandler.Sha256Hex(viewerKey),
            ["Dashboard:ApiKeys:1:Role"] = "read-only",
        });
        var (bus, received) = await ListenAsync(data.PatientId);
        try
        {
            using var client = host.Client();
            client.DefaultRequestHeaders.Add("X-Api-Key", operatorKey);
            const string path = "/api/studies/STUDY-A/exclusions?field=P01%2FL2%2Ff1.png";
            static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

            using (var viewer = host.Client())
            {
                viewer.DefaultRequestHeaders.Add("X-Api-Key", viewerKey);
                Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PutAsync(path, Json("""{"reason":"blurred"}"""))).StatusCode);
            }
            var noReason = await client.PutAsync(path, Json("{}"));
            Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
            Assert.Contains("\"reason\"", await noReason.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsync("/api/studies/STUDY-A/exclusions?field=P01%2FL9%2Ff1.png", Json("""{"reason":"x"}"""))).StatusCode);
            // A body that is not JSON, or not the right JSON, is problem details naming it (an empty 400 or 415 before).
            var notJson = await client.PutAsync(path, new StringContent("reason=blur", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
            Assert.Equal((HttpStatusCode.UnsupportedMediaType, "application/problem+json"), (notJson.StatusCode, notJson.Content.Headers.ContentType?.MediaType));
            var wrongType = await client.PutAsync(path, Json("""{"reason": 5}"""));
            Assert.Equal(HttpStatusCode.BadRequest, wrongType.StatusCode);
            using (var problem = System.Text.Json.JsonDocument.Parse(await wrongType.Content.ReadAsStringAsync()))
                Assert.StartsWith("The body must be {\"reason\"", problem.RootElement.GetProperty("errors").GetProperty("body")[0].GetString());
            // An unknown API route or a query value that does not bind: problem details too.
            foreach (var url in new[] { "/api/nothing-here", "/api/studies?limit=abc" })
                Assert.Equal("application/problem+json", (await client.GetAsync(url)).Content.Headers.ContentType?.MediaType);

            var put = await client.PutAsync(path, Json("""{"reason":"motion blur"}"""));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            Assert.Contains("\"changed\":true", await put.Content.ReadAsStringAsync());
            await WaitForAsync(received, 1);
            Assert.StartsWith("motion blur|dashboard:qc", await data.Database.ScalarAsync<string>(
                "select qc_exclusion || '|' || qc_excluded_by from images where rel_path = 'P01/L2/f1.png'"));
            Assert.Contains("\"changed\":false", await (await client.PutAsync(path, Json("""{"reason":"motion blur"}"""))).Content.ReadAsStringAsync());
            await WaitForAsync(received, 2);   // asked again: a request lost before finishes

            Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync(path)).StatusCode);
            Assert.Null(await data.Database.ScalarAsync<string>("select qc_exclusion from images where rel_path = 'P01/L2/f1.png'"));
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task A_review_that_waited_for_an_aggregation_holding_the_lock_is_pending_after_it()
    {
        // The review's time was its transaction's start, before it waited for the study's lock: an aggregation that took
        // the lock first, and did not see the exclusion, was stamped later, and the exclusion never showed as pending.
        await using var data = await TestData.CreateAsync();
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(data.Database.ConnectionString);
        await using var aggregation = await dataSource.OpenConnectionAsync();
        await using var tx = await aggregation.BeginTransactionAsync();
        await using (var take = new Npgsql.NpgsqlCommand(
            $"select pg_advisory_xact_lock(hashtextextended('nfc.study:' || external_id, 0)) from studies where id = {data.StudyId}", aggregation, tx))
            await take.ExecuteNonQueryAsync();
        var review = new FieldReview(dataSource).ExcludeAsync(data.ImageIds[0], "air bubble", "test");
        await LockWaiters.WaitForAdvisoryWaiterAsync(dataSource, review, "the review");
        await using (var save = new Npgsql.NpgsqlCommand(
            $"update patient_metrics set computed_at = clock_timestamp() where patient_id = {data.PatientId}", aggregation, tx))
            Assert.Equal(1, await save.ExecuteNonQueryAsync());
        await tx.CommitAsync();
        Assert.Equal(FieldReviewOutcome.Changed, (await review).Outcome);

        Assert.True(await data.Database.ScalarAsync<bool>(
            $"select exists (select 1 from images i join patient_metrics pm on pm.patient_id = i.patient_id where i.id = {data.ImageIds[0]} and i.qc_changed_at > pm.computed_at)"));
    }

    [Theory]
    [InlineData("", "Give a reason")]
    [InlineData("line\nbreak", "control characters")]
    [InlineData("line\u2028separator", "line separators")]
    [InlineData("ok\u202Eedoc", "bidirectional overrides")]   // shown reversed: "ok" then "code"
    [InlineData("isolate\u2066d", "bidirectional overrides")]
    [InlineData("\u200B\u2060", "invisible characters")]   // zero-width: shown as nothing beside the field
    [InlineData("\u200C\u200D", "at least one letter or digit")]   // joiners, printable in a word, are no reason alone
    public void A_reason_must_be_given_on_one_line(string reason, string problem) =>
        Assert.Contains(problem, FieldReview.ReasonProblem(reason));

    [Theory]
    [InlineData("Blase über der distalen Reihe")]
    [InlineData("\u6C17\u6CE1 (air bubble)")]
    public void A_reason_in_any_script_is_taken(string reason) => Assert.Null(FieldReview.ReasonProblem(reason));

    [GeneratedRegex("name=\"__af\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
