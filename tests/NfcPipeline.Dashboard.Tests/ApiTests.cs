using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Dashboard.Security;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>The HTTP API against real PostgreSQL and RabbitMQ, with an operator API key.</summary>
public class ApiTests
{
    private const string OperatorKey = "operator-key-for-tests";

    internal static Dictionary<string, string?> Settings(TestData data) => new()
    {
        ["Dashboard:ShareRoot"] = data.ShareRoot,
        ["Dashboard:ApiKeys:0:Name"] = "lims",
        ["Dashboard:ApiKeys:0:KeySha256"] = DashboardAuthHandler.Sha256Hex(OperatorKey),
        ["Dashboard:ApiKeys:0:Role"] = "operator",
    };

    internal static HttpClient Keyed(DashboardHost host)
    {
        var client = host.Client();
        client.DefaultRequestHeaders.Add("X-Api-Key", OperatorKey);
        return client;
    }

    [Fact]
    public async Task With_the_broker_or_the_database_away_or_behind_the_api_answers_503()
    {
        // A submission waited on MassTransit's connection for ever (the script's request with it), and the database
        // away was a 500 "failed on the server", which a script cannot tell from a defect.
        await using var data = await TestData.CreateAsync();
        var noBroker = Settings(data);
        noBroker["Messaging:RabbitUri"] = $"amqp://nfc:x@127.0.0.1:{ClosedPort()}/";
        await using (var host = await DashboardHost.StartAsync(data.Database.ConnectionString, noBroker))
        {
            using var client = Keyed(host);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var response = await client.PostAsync("/api/studies", new StringContent("""{"studyId":"OUT-1","folderPath":"studyN"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"took {clock.Elapsed}");
            Assert.Equal("30", response.Headers.RetryAfter?.ToString());
            Assert.Contains("RabbitMQ did not take the submission within 10 s", await response.Content.ReadAsStringAsync());
        }

        var noDatabase = new Npgsql.NpgsqlConnectionStringBuilder(data.Database.ConnectionString) { Port = ClosedPort(), Timeout = 3 }.ConnectionString;
        await using (var host = await DashboardHost.StartAsync(noDatabase, Settings(data)))
        {
            using var client = Keyed(host);
            var response = await client.GetAsync("/api/studies/STUDY-A");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("30", response.Headers.RetryAfter?.ToString());
            Assert.Contains("The database cannot be reached", await response.Content.ReadAsStringAsync());
        }

        // A schema older than the dashboard (a column a later migration added, gone) says so: no bare 500, and no
        // Retry-After, since waiting does not migrate it.
        await data.Database.ScalarAsync<int>("alter table workers drop column alive_within; select 1");
        await using (var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data)))
        {
            using var client = Keyed(host);
            // The export's query fails after the study was found: an answer, not a 200 cut short after its header row.
            await data.Database.ScalarAsync<int>("alter function shown_image_path rename to shown_image_path_gone; select 1");
            var export = await client.GetAsync("/api/studies/STUDY-A/results.csv");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, export.StatusCode);
            Assert.DoesNotContain("rel_path", await export.Content.ReadAsStringAsync());
            var response = await client.GetAsync("/workers");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Null(response.Headers.RetryAfter);
            Assert.Contains("schema is older than this dashboard", await response.Content.ReadAsStringAsync());
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);   // a page: a sentence, not problem JSON
            Assert.Equal("application/problem+json", export.Content.Headers.ContentType?.MediaType);
        }
    }

    internal static int ClosedPort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Submitting_a_study_publishes_SubmitStudy_and_answers_202_with_its_location()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        var received = new TaskCompletionSource<SubmitStudy>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = await MessageListener.StartAsync<SubmitStudy>("dashboard-submit", ctx => { if (ctx.Message.StudyId == "API-1") received.TrySetResult(ctx.Message); });
        try
        {
            using var client = Keyed(host);
            var response = await client.PostAsJsonAsync("/api/studies", new { studyId = "API-1", folderPath = TestData.FreeFolder, micrometresPerPixel = 1.8, reanalyze = true });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal("/api/studies/API-1", response.Headers.Location?.OriginalString);
            var message = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(TestData.FreeFolder, message.FolderPath);
            Assert.Equal(1.8, message.MicrometresPerPixel);
            Assert.True(message.Reanalyze);
        }
        finally { await bus.StopAsync(); }
    }

    [Fact]
    public async Task A_retried_submission_with_one_Idempotency_Key_goes_out_as_one_message_id()
    {
        // A retry after a lost answer (the broker took the first) was a second submission: a reanalysis queued twice.
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        var ids = new System.Collections.Concurrent.ConcurrentQueue<Guid?>();
        var bus = await MessageListener.StartAsync<SubmitStudy>("dashboard-idempotent", ctx => { if (ctx.Message.StudyId == "API-IDEM") ids.Enqueue(ctx.MessageId); });
        try
        {
            using var client = Keyed(host);
            async Task<HttpStatusCode> Post(string? key, bool reanalyze = true)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/studies")
                {
                    Content = JsonContent.Create(new { studyId = "API-IDEM", folderPath = TestData.FreeFolder, reanalyze }),
                };
                if (key is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
                return (await client.SendAsync(request)).StatusCode;
            }
            Assert.Equal(HttpStatusCode.Accepted, await Post("run-42"));
            Assert.Equal(HttpStatusCode.Accepted, await Post("run-42"));
            Assert.Equal(HttpStatusCode.Accepted, await Post("run-43"));
            Assert.Equal(HttpStatusCode.Accepted, await Post(null));
            Assert.Equal(HttpStatusCode.Accepted, await Post("run-42", reanalyze: false));   // the key reused for another body
            Assert.Equal(HttpStatusCode.BadRequest, await Post("with space"));
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (ids.Count < 5 && DateTime.UtcNow < deadline) await Task.Delay(50);

            var received = ids.ToArray();
            Assert.Equal(5, received.Length);
            // The same key and body twice: one message id twice (consumed in any order), the others once each.
            Assert.Single(received.GroupBy(x => x), g => g.Count() == 2);
            Assert.Equal(5 - 1, received.Distinct().Count());
        }
        finally { await bus.StopAsync(); }
    }

    [Theory]
    [InlineData("""{"folderPath":"studyA"}""", "studyId")]
    [InlineData("""{"studyId":"site/2026","folderPath":"studyA"}""", "studyId")]
    [InlineData("""{"studyId":"X","folderPath":"../etc"}""", "folderPath")]
    [InlineData("""{"studyId":"X","folderPath":"/etc"}""", "folderPath")]
    [InlineData("""{"studyId":"X","folderPath":"no-such-folder"}""", "folderPath")]
    [InlineData("""{"studyId":"X","folderPath":"studyA/P01/L2/f1.png"}""", "folderPath")]
    [InlineData("""{"studyId":"X","folderPath":"studyA","micrometresPerPixel":0}""", "micrometresPerPixel")]
    [InlineData("""{"studyId":"X","folderPath":"studyA","micrometresPerPixel":-2.5}""", "micrometresPerPixel")]
    [InlineData("""{"studyId":"X"}""", "folderPath")]
    [InlineData("""{"studyId":"X","images":[{"path":"../../etc/passwd","patient":"p","finger":"L2"}]}""", "images")]
    [InlineData("""{"studyId":"X","images":[null]}""", "images")]
    [InlineData("""{"studyId":"X","images":[{"path":"studyA/P01/L2/f1.png","patient":"p\u0000"}]}""", "images")]
    [InlineData("""{"studyId":"X","images":[{"path":"studyA/P01/L2/f1.png","patient":"P"},{"path":"studyA\\P01\\L2\\f1.png","patient":"P"}]}""", "images")]
    [InlineData("""{"studyId":"X","images":[{"path":"studyA/P01/L2/f1.png","patient":"P"},{"path":"studyA/P01//L2/f1.png","patient":"P"}]}""", "images")]
    [InlineData("""{"studyId":"X","images":[{"path":"studyA/P01/L2/f1.png","patient":"P\u2028"}]}""", "images")]
    // Shown as P01/L2/f1.png, as patient P01's finger L2 would be; a finger with a space; a folder listed as an image.
    [InlineData("""{"studyId":"X","images":[{"path":"studyA/P01/L2/f1.png","patient":"P01/L2"}]}""", "images")]
    [InlineData("""{"studyId":"X","images":[{"path":"studyA/P01/L2/f1.png","patient":"P01","finger":"L2 "}]}""", "images")]
    [InlineData("""{"studyId":"X","images":[{"path":"studyA/P01/L2","patient":"P01"}]}""", "images")]
    [InlineData("""{"studyId":"X","folderPath":"studyA","device":"cap\u0000"}""", "device")]
    [InlineData("""{"studyId":"X","folderPath":"studyA","micrometresPerPixel":"abc"}""", "micrometresPerPixel")]
    [InlineData("""{"studyId":"X", "folderPath": """, "folderPath")]
    [InlineData("""not json""", "body")]
    // A field the body may not hold: a mistyped calibration was dropped, the study measured at another scale.
    [InlineData("""{"studyId":"X","folderPath":"studyA","umPerPx":1.9}""", "umPerPx")]
    [InlineData("""{"studyId":"X","images":[{"path":"studyA/P01/L2/f1.png","patient":"P","fingr":"L2"}]}""", "images[0].fingr")]
    [InlineData("""{"studyId":"..","folderPath":"studyA"}""", "studyId")]
    public async Task An_invalid_submission_is_refused_with_problem_details(string body, string field)
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);
        var response = await client.PostAsync("/api/studies", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), $"expected an error for {field}: {problem.RootElement}");
    }

    [Fact]
    public async Task A_body_that_is_not_JSON_gets_problem_details_and_a_blank_folder_beside_images_is_ignored()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);
        var text = await client.PostAsync("/api/studies", new StringContent("studyId=X", System.Text.Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
        Assert.Equal("application/problem+json", text.Content.Headers.ContentType?.MediaType);

        // A charset this build cannot decode: 415 with problem details (was an empty 500).
        var latin = new ByteArrayContent("{\"studyId\": \"X\"}"u8.ToArray());
        latin.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("application/json; charset=windows-1252");
        var unknownCharset = await client.PostAsync("/api/studies", latin);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, unknownCharset.StatusCode);
        Assert.Equal("application/problem+json", unknownCharset.Content.Headers.ContentType?.MediaType);

        var blankFolder = await client.PostAsJsonAsync("/api/studies", new
        {
            studyId = "API-BLANK", folderPath = " ", images = new[] { new { path = "studyA/P01/L2/f1.png", patient = "P01", finger = "L2" } },
        });
        Assert.Equal(HttpStatusCode.Accepted, blankFolder.StatusCode);   // was a 500
    }

    [Fact]
    public async Task A_study_id_registered_from_another_folder_is_409_before_anything_is_published()
    {
        await using var data = await TestData.CreateAsync();
        Directory.CreateDirectory(Path.Combine(data.ShareRoot, "studyB", "P01", "L2"));
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);
        // A folder the worker would refuse (no images: it never registers) is refused here.
        var empty = await client.PostAsJsonAsync("/api/studies", new { studyId = "API-EMPTY", folderPath = "studyB" });
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Contains("holds no images", await empty.Content.ReadAsStringAsync());
        File.WriteAllBytes(Path.Combine(data.ShareRoot, "studyB", "P01", "L2", "f1.png"), [0x89, 0x50, 0x4E, 0x47]);
        // Named as submitted, relative to the share: the answer quoted the server's absolute path.
        var aFile = await client.PostAsJsonAsync("/api/studies", new { studyId = "API-FILE", folderPath = "studyB/P01/L2/f1.png" });
        Assert.Equal(HttpStatusCode.BadRequest, aFile.StatusCode);
        var aFileBody = await aFile.Content.ReadAsStringAsync();
        Assert.Contains("'studyB/P01/L2/f1.png' is a file, not a study folder", aFileBody);
        Assert.DoesNotContain(data.ShareRoot.TrimEnd('/'), aFileBody);

        var otherFolder = await client.PostAsJsonAsync("/api/studies", new { studyId = TestData.StudyExternalId, folderPath = "studyB" });
        Assert.Equal(HttpStatusCode.Conflict, otherFolder.StatusCode);
        Assert.Contains("already registered from folder 'studyA'", await otherFolder.Content.ReadAsStringAsync());
        var list = await client.PostAsJsonAsync("/api/studies", new
        {
            studyId = TestData.StudyExternalId, images = new[] { new { path = "studyA/P01/L2/f1.png", patient = "P01", finger = "L2" } },
        });
        Assert.Equal(HttpStatusCode.Conflict, list.StatusCode);
        // The folder it came from may submit it again.
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/studies", new { studyId = TestData.StudyExternalId, folderPath = "studyA/" })).StatusCode);
        // Under another id it would be a second study of the same images.
        var otherId = await client.PostAsJsonAsync("/api/studies", new { studyId = "API-OTHER", folderPath = "studyA" });
        Assert.Equal(HttpStatusCode.Conflict, otherId.StatusCode);
        Assert.Contains($"Folder 'studyA' is already registered as study '{TestData.StudyExternalId}'", await otherId.Content.ReadAsStringAsync());
        // Renamed (gone from the share), its study goes with the folder submitted.
        Directory.Move(Path.Combine(data.ShareRoot, "studyA"), Path.Combine(data.ShareRoot, "studyA-old"));
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/studies", new { studyId = TestData.StudyExternalId, folderPath = "studyB" })).StatusCode);

        // An id that differs from a registered one only in Unicode form ("Zürich" composed, then decomposed) is refused.
        await data.AddStudyAsync("Z\u00fcrich-01", "zurich");
        var lookalike = await client.PostAsJsonAsync("/api/studies", new { studyId = "Zu\u0308rich-01", folderPath = TestData.FreeFolder });
        Assert.Equal(HttpStatusCode.Conflict, lookalike.StatusCode);
        Assert.Contains("only in its Unicode form", await lookalike.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/api/studies/%00")]
    [InlineData("/api/studies/STUDY-A?x=%00")]
    [InlineData("/jobs?study=%00")]
    public async Task A_NUL_character_in_a_request_is_400_not_a_database_error(string url)
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);
        var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);   // a NUL in the path Kestrel refuses itself
        if (url.Contains('?'))   // refused here: the API's as problem details, a page's as text
            Assert.Equal(url.StartsWith("/api/", StringComparison.Ordinal) ? "application/problem+json" : "text/plain",
                response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Study_status_reports_progress_and_patients()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);
        using var doc = JsonDocument.Parse(await client.GetStringAsync("/api/studies/STUDY-A"));
        var s = doc.RootElement;
        Assert.Equal("processing", s.GetProperty("state").GetString());
        Assert.Equal(3, s.GetProperty("images").GetInt32());
        Assert.Equal(2, s.GetProperty("succeeded").GetInt32());
        Assert.Equal(1, s.GetProperty("failed").GetInt32());
        Assert.Equal(100.0, s.GetProperty("percentDone").GetDouble());
        Assert.Equal(2, s.GetProperty("patients").GetArrayLength());
        Assert.Equal(("studyA", 2.0), (s.GetProperty("sourcePath").GetString(), s.GetProperty("umPerPx").GetDouble()));
        Assert.Equal(JsonValueKind.Number, s.GetProperty("patients").EnumerateArray().First(p => p.GetProperty("code").GetString() == "P01")
            .GetProperty("densityMean").ValueKind);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/studies/NOPE")).StatusCode);
    }

    [Fact]
    public async Task A_studys_images_come_in_pages_with_their_states_errors_and_results()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);

        using var first = JsonDocument.Parse(await client.GetStringAsync("/api/studies/STUDY-A/images?limit=2"));
        Assert.Equal(2, first.RootElement.GetProperty("images").GetArrayLength());
        var next = first.RootElement.GetProperty("next").GetString()!;
        Assert.StartsWith("/api/studies/STUDY-A/images?after=", next);
        using var second = JsonDocument.Parse(await client.GetStringAsync(next));
        Assert.Equal(1, second.RootElement.GetProperty("images").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("next").ValueKind);
        var ids = first.RootElement.GetProperty("images").EnumerateArray().Concat(second.RootElement.GetProperty("images").EnumerateArray())
            .Select(i => i.GetProperty("id").GetInt64()).Order();
        Assert.Equal(data.ImageIds.Order(), ids);

        using var failed = JsonDocument.Parse(await client.GetStringAsync("/api/studies/STUDY-A/images?state=failed"));
        var image = Assert.Single(failed.RootElement.GetProperty("images").EnumerateArray());
        Assert.Equal(("decode", "the file is truncated", TestData.ScriptPatient), (image.GetProperty("errorCode").GetString(),
            image.GetProperty("error").GetString(), image.GetProperty("patient").GetString()));
        using var succeeded = JsonDocument.Parse(await client.GetStringAsync("/api/studies/STUDY-A/images?state=succeeded"));
        Assert.All(succeeded.RootElement.GetProperty("images").EnumerateArray(), i =>
            Assert.Equal((7.5, true, "P01"), (i.GetProperty("densityPerMm").GetDouble(), i.GetProperty("counted").GetBoolean(), i.GetProperty("patient").GetString())));

        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/studies/STUDY-A/images?state=done")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/studies/STUDY-A/images?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/studies/STUDY-A/images?after=-1")).StatusCode);
        // An anchor that is no image of this study (removed since, or another study's): the first page came back as if it were the next.
        var gone = await client.GetAsync("/api/studies/STUDY-A/images?after=999999999");
        Assert.Equal(HttpStatusCode.BadRequest, gone.StatusCode);
        Assert.Contains("list again from the first page", await gone.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/studies/NOPE/images")).StatusCode);
    }

    [Fact]
    public async Task A_query_value_that_does_not_bind_is_a_400_in_development_too()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, environment: "Development");
        using var client = host.Client();
        var response = await client.GetAsync("/api/studies?limit=abc");   // minimal APIs threw it there, answered as a 500
        Assert.Equal((HttpStatusCode.BadRequest, "application/problem+json"), (response.StatusCode, response.Content.Headers.ContentType?.MediaType));
    }

    [Fact]
    public async Task Studies_are_listed_newest_first_in_pages_filtered_by_state()
    {
        await using var data = await TestData.CreateAsync();
        await using (var c = new Npgsql.NpgsqlConnection(data.Database.ConnectionString))
        {
            await c.OpenAsync();
            await using var insert = new Npgsql.NpgsqlCommand("""
                insert into studies (external_id, source_path, um_per_px, state, image_count, completed_at)
                values ('STUDY-B', 'studyB', 2.0, 'completed', 0, now()), ('STUDY-C', 'studyC', 2.0, 'completed', 0, now())
                """, c);
            await insert.ExecuteNonQueryAsync();
        }
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);

        using var first = JsonDocument.Parse(await client.GetStringAsync("/api/studies?limit=2"));
        Assert.Equal(["STUDY-C", "STUDY-B"], Ids(first));
        var b = first.RootElement.GetProperty("studies")[1];
        Assert.Equal("completed", b.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.String, b.GetProperty("completedAt").ValueKind);
        var next = first.RootElement.GetProperty("next").GetString();
        Assert.Equal($"/api/studies?before={b.GetProperty("dbId").GetInt64()}&limit=2", next);
        using var second = JsonDocument.Parse(await client.GetStringAsync(next));
        Assert.Equal(["STUDY-A"], Ids(second));
        var a = second.RootElement.GetProperty("studies")[0];
        Assert.Equal(3, a.GetProperty("images").GetInt32());
        Assert.Equal(1, a.GetProperty("failed").GetInt32());
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("next").ValueKind);

        using var completed = JsonDocument.Parse(await client.GetStringAsync("/api/studies?state=completed"));
        Assert.Equal(["STUDY-C", "STUDY-B"], Ids(completed));

        foreach (var (query, field) in new[] { ("state=done", "state"), ("limit=0", "limit"), ("limit=501", "limit"), ("before=-3", "before") })
        {
            var refused = await client.GetAsync($"/api/studies?{query}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), query);
        }

        static string[] Ids(JsonDocument page) =>
            [.. page.RootElement.GetProperty("studies").EnumerateArray().Select(s => s.GetProperty("studyId").GetString()!)];
    }
}
