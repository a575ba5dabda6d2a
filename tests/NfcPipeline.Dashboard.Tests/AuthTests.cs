using Microsoft.Extensions.DependencyInjection;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Dashboard.Security;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Binding rules, roles and output encoding.</summary>
public class AuthTests
{
    internal static Dictionary<string, string?> Users() => new()
    {
        ["Dashboard:Users:0:Name"] = "olga", ["Dashboard:Users:0:PasswordSha256"] = DashboardAuthHandler.Sha256Hex("op-pass"), ["Dashboard:Users:0:Role"] = "operator",
        ["Dashboard:Users:1:Name"] = "rita", ["Dashboard:Users:1:PasswordSha256"] = DashboardAuthHandler.Sha256Hex("ro-pass"), ["Dashboard:Users:1:Role"] = "read-only",
        ["Dashboard:ApiKeys:0:Name"] = "viewer", ["Dashboard:ApiKeys:0:KeySha256"] = DashboardAuthHandler.Sha256Hex("ro-key"), ["Dashboard:ApiKeys:0:Role"] = "read-only",
    };

    internal static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    [Theory]
    [InlineData("http://0.0.0.0:5080")]
    [InlineData("http://*:5080")]
    [InlineData("http://127.0.0.1:5080;http://192.168.1.20:5080")]
    public void Binding_a_non_loopback_address_without_auth_refuses_to_start(string urls)
    {
        var builder = DashboardHost.CreateBuilder("Host=127.0.0.1", new Dictionary<string, string?> { ["Dashboard:Urls"] = urls });
        var ex = Assert.Throws<DashboardConfigurationException>(() => builder.AddDashboardServices());
        Assert.Contains("not a loopback address", ex.Message);
        Assert.Contains("Dashboard:Users", ex.Message);
    }

    [Theory]
    [InlineData("Dashboard:Users:0:PasswordSha256", "empty password")]
    [InlineData("Dashboard:ApiKeys:0:KeySha256", "empty key")]
    public void A_password_or_key_hash_of_the_empty_string_refuses_to_start(string key, string expected)
    {
        var settings = Users();
        settings[key] = DashboardAuthHandler.Sha256Hex("").ToUpperInvariant();
        var builder = DashboardHost.CreateBuilder("Host=127.0.0.1", settings);
        var ex = Assert.Throws<DashboardConfigurationException>(() => builder.AddDashboardServices());
        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("password")]
    [InlineData("admin")]
    public void A_users_sha256_of_a_password_guessers_try_first_refuses_to_start(string password)
    {
        var settings = Users();
        settings["Dashboard:Users:0:PasswordSha256"] = DashboardAuthHandler.Sha256Hex(password);
        var builder = DashboardHost.CreateBuilder("Host=127.0.0.1", settings);
        var ex = Assert.Throws<DashboardConfigurationException>(() => builder.AddDashboardServices());
        Assert.Contains("a password everyone tries first", ex.Message);
    }

    [Fact]
    public async Task The_dashboard_process_exits_with_a_clear_error_on_a_public_binding_without_auth()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "nfc-dashboard.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "--Dashboard:Urls=http://0.0.0.0:5999"])
        {
            RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = AppContext.BaseDirectory,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("refusing to start", await stderr);
        Assert.Contains("http://0.0.0.0:5999 is not a loopback address", await stderr);
    }

    [Fact]
    public async Task A_non_loopback_binding_starts_when_users_are_configured()
    {
        var settings = Users();
        settings["Dashboard:Urls"] = "http://0.0.0.0:0";
        var builder = DashboardHost.CreateBuilder("Host=127.0.0.1", settings);
        builder.AddDashboardServices();
        await using var app = builder.Build();
        app.MapDashboard();
        await app.StartAsync();
        try
        {
            var address = Assert.Single(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
                .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses);
            Assert.StartsWith("http://0.0.0.0:", address);
            // Reached through it, a page asks for a sign-in: users configured, nothing answers anonymously.
            using var client = new HttpClient { BaseAddress = new Uri(address.Replace("0.0.0.0", "127.0.0.1")) };
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/jobs")).StatusCode);
        }
        finally { await app.StopAsync(); }
    }

    [Fact]
    public async Task A_read_only_user_cannot_requeue_and_the_job_stays_failed()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Users());
        using var client = host.Client();

        var anonymous = await client.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());

        client.DefaultRequestHeaders.Authorization = Basic("rita", "ro-pass");
        var page = await client.GetStringAsync("/jobs?state=failed");
        Assert.Contains($"id=\"job-{data.FailedJobId}\"", page);
        Assert.DoesNotContain("Requeue", page); // no action buttons for read-only users

        var post = await client.PostAsync("/jobs/requeue", new FormUrlEncodedContent([new("ids", data.FailedJobId.ToString())]));
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        var trigger = await client.PostAsync("/share/trigger", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Forbidden, trigger.StatusCode);
        Assert.Equal("failed", await data.JobStateAsync(data.FailedJobId));

        // A signed-in caller's form is read wherever it is posted (here to a page that takes none): one over the limit,
        // or with a file, is refused instead of buffered.
        var large = new MultipartFormDataContent { { new ByteArrayContent(new byte[DashboardServiceExtensions.MaxFormBytes + 1]), "file", "big.bin" } };
        var refused = await client.PostAsync("/jobs", large);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);   // said as too large, not malformed
        Assert.Contains("The form is larger than the dashboard's forms take (256 KiB).", await refused.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", refused.Content.Headers.ContentType?.MediaType);   // a page's refusal is text (a browser showed JSON)
        var small = new MultipartFormDataContent { { new ByteArrayContent(new byte[10_000]), "file", "small.bin" } };
        var withFile = await client.PostAsync("/jobs", small);
        Assert.Equal(HttpStatusCode.BadRequest, withFile.StatusCode);
        Assert.Contains("take no files", await withFile.Content.ReadAsStringAsync());
        var manyValues = new FormUrlEncodedContent(Enumerable.Range(0, 40).Select(i => new KeyValuePair<string, string>($"k{i}", new string('x', 10_000))));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await client.PostAsync("/jobs", manyValues)).StatusCode);   // 400 KB of small values

        client.DefaultRequestHeaders.Authorization = Basic("rita", "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/jobs")).StatusCode);
    }

    [Fact]
    public async Task A_user_with_a_salted_password_hash_from_the_cli_signs_in_and_a_wrong_password_does_not()
    {
        var made = await NfcProcess.RunWithInputAsync("s3cret pass\n", "hash-password", "--iterations", "100000");
        Assert.Equal(0, made.Code);
        var hash = made.Out.Trim();
        Assert.StartsWith("pbkdf2-sha256$100000$", hash);
        Assert.True(PasswordHashes.Verify("s3cret pass", hash));
        Assert.NotEqual(hash, (await NfcProcess.RunWithInputAsync("s3cret pass\n", "hash-password", "--iterations", "100000")).Out.Trim());   // salted
        Assert.Equal(2, (await NfcProcess.RunWithInputAsync("", "hash-password")).Code);
        var common = await NfcProcess.RunWithInputAsync("Admin\n", "hash-password");
        Assert.Equal(2, common.Code);
        Assert.Contains("one everyone tries first", common.Err);
        Assert.Equal(2, (await NfcProcess.RunWithInputAsync("x\n", "hash-password", "--iterations", "10")).Code);

        await using var data = await TestData.CreateAsync();
        var settings = Users();
        settings.Remove("Dashboard:Users:0:PasswordSha256");
        settings["Dashboard:Users:0:PasswordHash"] = hash;
        settings["Dashboard:MaxConcurrentPasswordChecks"] = "1";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        using var client = host.Client();
        client.DefaultRequestHeaders.Authorization = Basic("olga", "s3cret pass");
        // A page's parallel requests with credentials not yet remembered share one check: none is refused a slot (429).
        var burst = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => client.GetAsync("/jobs")));
        Assert.All(burst, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        // So do an unknown name's (all refused alike, none 429): coalesced for known names only, the answers told them apart.
        using (var stranger = host.Client())
        {
            stranger.DefaultRequestHeaders.Authorization = Basic("nobody", "guess");
            var refused = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => stranger.GetAsync("/jobs")));
            Assert.All(refused, r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/jobs")).StatusCode);   // the second from the verified cache
        client.DefaultRequestHeaders.Authorization = Basic("olga", "s3cret pas");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/jobs")).StatusCode);
        client.DefaultRequestHeaders.Authorization = Basic("nobody", "s3cret pass");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/jobs")).StatusCode);
    }

    [Theory]
    [InlineData("Dashboard:MaxConcurrentOverlays", "0", "Dashboard:MaxConcurrentOverlays must be at least 1.")]
    [InlineData("Dashboard:StudyImagesPageSize", "0", "Dashboard:StudyImagesPageSize must be 1 to 100000.")]
    [InlineData("Dashboard:StudyImagesPageSize", "2147483647", "Dashboard:StudyImagesPageSize must be 1 to 100000.")]
    [InlineData("Dashboard:MaxConcurrentExports", "0", "Dashboard:MaxConcurrentExports must be 1 to 64.")]
    [InlineData("Dashboard:ShareTimeout", "00:00:00", "Dashboard:ShareTimeout must be 1 second to 5 minutes (hh:mm:ss).")]
    [InlineData("Dashboard:ExportQueueWait", "-00:00:01", "Dashboard:ExportQueueWait must be 0 to 10 minutes (hh:mm:ss).")]
    [InlineData("Dashboard:SubmissionCheckTimeout", "00:11:00", "Dashboard:SubmissionCheckTimeout must be 1 second to 10 minutes (hh:mm:ss).")]
    [InlineData("Dashboard:MaxConcurrentShareChecks", "0", "Dashboard:MaxConcurrentShareChecks must be 1 to 64.")]
    [InlineData("Dashboard:Users:1:Name", "olga", "Dashboard:Users names 'olga' 2 times; each user is one entry.")]
    [InlineData("Dashboard:Users:0:Name", "olga:admin", "Dashboard:Users name 'olga:admin' contains a colon, which basic auth cannot carry.")]
    public void A_limit_out_of_range_refuses_to_start(string key, string value, string expected)
    {
        var settings = Users();
        settings[key] = value;
        Assert.Equal(expected, Assert.Throws<DashboardConfigurationException>(
            () => DashboardHost.CreateBuilder("Host=127.0.0.1", settings).AddDashboardServices()).Message);
    }

    [Theory]
    [InlineData("pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "PasswordHash")]   // too few iterations
    [InlineData("sha1$600000$AAAA$AAAA", "PasswordHash")]
    public void A_malformed_or_weak_password_hash_refuses_to_start(string hash, string expected)
    {
        var settings = Users();
        settings.Remove("Dashboard:Users:0:PasswordSha256");
        settings["Dashboard:Users:0:PasswordHash"] = hash;
        var builder = DashboardHost.CreateBuilder("Host=127.0.0.1", settings);
        Assert.Contains(expected, Assert.Throws<DashboardConfigurationException>(() => builder.AddDashboardServices()).Message);

        settings["Dashboard:Users:0:PasswordHash"] = PasswordHashes.Create("x", PasswordHashes.MinIterations);
        settings["Dashboard:Users:0:PasswordSha256"] = DashboardAuthHandler.Sha256Hex("x");   // both: ambiguous
        Assert.Contains("one of PasswordHash", Assert.Throws<DashboardConfigurationException>(
            () => DashboardHost.CreateBuilder("Host=127.0.0.1", settings).AddDashboardServices()).Message);
    }

    [Fact]
    public async Task Repeated_failed_sign_ins_lock_the_address_out_even_for_the_right_password()
    {
        await using var data = await TestData.CreateAsync();
        var settings = Users();
        settings["Dashboard:MaxFailedSignIns"] = "3";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        using var client = host.Client();
        client.DefaultRequestHeaders.Authorization = Basic("olga", "op-pass");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/jobs")).StatusCode);

        for (int i = 0; i < 3; i++)
        {
            client.DefaultRequestHeaders.Authorization = Basic("olga", $"guess-{i}");
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/jobs")).StatusCode);
        }
        client.DefaultRequestHeaders.Authorization = Basic("olga", "op-pass");
        // Said as a lockout (429, when to come back), not a 401 that reads as a wrong password and makes a browser ask again.
        var locked = await client.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.Empty(locked.Headers.WwwAuthenticate);
        Assert.InRange(int.Parse(locked.Headers.GetValues("Retry-After").Single()), 1, 15 * 60);
        Assert.Contains("Too many failed sign-ins from this address", await locked.Content.ReadAsStringAsync());
        client.DefaultRequestHeaders.Authorization = null;
        client.DefaultRequestHeaders.Add("X-Api-Key", "ro-key");
        var lockedApi = await client.GetAsync("/api/studies/STUDY-A");
        Assert.Equal((HttpStatusCode.TooManyRequests, "application/problem+json"), (lockedApi.StatusCode, lockedApi.Content.Headers.ContentType?.MediaType));
        // An overlay answers its errors as the API does (docs/dashboard.md), its lockout too.
        var lockedOverlay = await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png");
        Assert.Equal((HttpStatusCode.TooManyRequests, "application/problem+json"), (lockedOverlay.StatusCode, lockedOverlay.Content.Headers.ContentType?.MediaType));
    }

    [Fact]
    public async Task An_overlay_asked_for_without_credentials_is_a_401_problem_as_the_api_answers()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Users());
        using var client = host.Client();

        var response = await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png");

        Assert.Equal((HttpStatusCode.Unauthorized, "application/problem+json"), (response.StatusCode, response.Content.Headers.ContentType?.MediaType));
        Assert.NotEmpty(response.Headers.WwwAuthenticate);
        Assert.Contains("Authentication required", await response.Content.ReadAsStringAsync());
        var page = await client.GetAsync("/jobs");
        Assert.Equal((HttpStatusCode.Unauthorized, "text/plain"), (page.StatusCode, page.Content.Headers.ContentType?.MediaType));
    }

    [Fact]
    public async Task A_form_is_read_only_after_authentication_and_a_malformed_one_is_400()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Users());
        static HttpContent NoBoundary() => new ByteArrayContent("x"u8.ToArray()) { Headers = { { "Content-Type", "multipart/form-data" } } };
        using var anonymous = host.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/jobs/requeue", NoBoundary())).StatusCode);   // was a 500
        using var operatorClient = host.Client();
        operatorClient.DefaultRequestHeaders.Authorization = Basic("olga", "op-pass");
        Assert.Equal(HttpStatusCode.BadRequest, (await operatorClient.PostAsync("/jobs/requeue", NoBoundary())).StatusCode);
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_a_guesser_locks_out_only_its_own_client_address()
    {
        await using var data = await TestData.CreateAsync();
        var settings = Users();
        settings["Dashboard:MaxFailedSignIns"] = "3";
        settings["Dashboard:TrustedProxies:0"] = "127.0.0.1";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        async Task<HttpStatusCode> Get(string forwardedFor, string password)
        {
            using var client = host.Client();
            client.DefaultRequestHeaders.Authorization = Basic("olga", password);
            client.DefaultRequestHeaders.Add("X-Forwarded-For", forwardedFor);
            return (await client.GetAsync("/jobs")).StatusCode;
        }

        for (int i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, await Get("10.9.9.9, 203.0.113.9", $"guess-{i}"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get("203.0.113.9", "op-pass"));   // the guesser is locked out
        Assert.Equal(HttpStatusCode.OK, await Get("203.0.113.10", "op-pass"));            // everyone else is not
        // Only the entry the proxy appended counts: a forged first entry does not move the guesser elsewhere, and
        // neither does a port some proxies append.
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get("198.51.100.1, 203.0.113.9", "op-pass"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get("203.0.113.9:40123", "op-pass"));
        Assert.Equal(3, host.Services.GetRequiredService<FailedSignInLimiter>().Failures("203.0.113.9"));
        Assert.Equal(0, host.Services.GetRequiredService<FailedSignInLimiter>().Failures("127.0.0.1"));

        settings["Dashboard:TrustedProxies:0"] = "not-an-address";
        Assert.Contains("TrustedProxies", Assert.Throws<DashboardConfigurationException>(
            () => DashboardHost.CreateBuilder("Host=127.0.0.1", settings).AddDashboardServices()).Message);
    }

    [Fact]
    public void A_lockout_ends_with_its_window_and_counts_each_address_apart()
    {
        var clock = new ManualClock();
        var options = Microsoft.Extensions.Options.Options.Create(new DashboardOptions { MaxFailedSignIns = 2, FailedSignInWindow = TimeSpan.FromMinutes(5) });
        var limiter = new FailedSignInLimiter(options, clock);
        Assert.False(limiter.RecordFailure("10.0.0.1"));
        Assert.False(limiter.IsLockedOut("10.0.0.1"));
        Assert.True(limiter.RecordFailure("10.0.0.1"));       // the second failure reaches the limit
        Assert.True(limiter.IsLockedOut("10.0.0.1"));
        Assert.False(limiter.IsLockedOut("10.0.0.2"));

        clock.Now += TimeSpan.FromMinutes(5);
        Assert.False(limiter.IsLockedOut("10.0.0.1"));
        Assert.False(limiter.RecordFailure("10.0.0.1"));      // a new window starts at one failure
    }

    [Fact]
    public async Task A_read_only_api_key_can_read_but_not_submit()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Users());
        using var client = host.Client();
        var anonymous = await client.GetAsync("/api/studies/STUDY-A");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());   // the challenge RFC 9110 requires
        client.DefaultRequestHeaders.Add("X-Api-Key", "ro-key");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/studies/STUDY-A")).StatusCode);
        var submit = await client.PostAsync("/api/studies", new StringContent("""{"studyId":"X","folderPath":"studyA"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, submit.StatusCode);
        Assert.Equal("application/problem+json", submit.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Without_configured_auth_a_local_caller_is_the_operator_but_proxied_or_rebound_requests_are_refused()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var client = host.Client();
        var page = await client.GetStringAsync("/jobs?state=failed");
        Assert.Contains("local (operator)", page);
        Assert.Contains("class=\"requeue\"", page);
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/jobs");
        rebound.Headers.Host = "attacker.example";
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(rebound)).StatusCode);
        foreach (var (header, value) in new[] { ("X-Real-IP", "203.0.113.9"), ("Via", "1.1 proxy"), ("X-Forwarded-Proto", "https") })
        {
            using var proxied = new HttpRequestMessage(HttpMethod.Get, "/jobs");
            proxied.Headers.Add(header, value);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(proxied)).StatusCode);
        }
        client.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.9");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/jobs")).StatusCode);
    }

    [Fact]
    public async Task An_operator_form_post_without_an_antiforgery_token_is_refused()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Users());
        using var client = host.Client();
        client.DefaultRequestHeaders.Authorization = Basic("olga", "op-pass");
        var post = await client.PostAsync("/jobs/requeue", new FormUrlEncodedContent([new("ids", data.FailedJobId.ToString())]));
        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        Assert.Equal("failed", await data.JobStateAsync(data.FailedJobId));
    }

    [Fact]
    public async Task A_patient_named_like_a_script_tag_is_rendered_as_text()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var client = host.Client();
        foreach (var path in new[] { $"/studies/{data.StudyId}", $"/patients/{data.ScriptPatientId}", $"/patients/{data.ScriptPatientId}/print" })
        {
            var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var html = await response.Content.ReadAsStringAsync();
            Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html);
            Assert.DoesNotContain("<script>alert", html);
            var csp = response.Headers.GetValues("Content-Security-Policy").Single();
            Assert.True(csp.Contains("script-src 'self'") || csp.Contains("default-src 'none'"), csp);
            Assert.DoesNotContain("script-src 'unsafe", csp);
        }
    }

    [Fact]
    public async Task Patient_data_is_neither_cached_nor_embeddable_by_other_sites()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var client = host.Client();
        foreach (var path in new[] { $"/patients/{data.PatientId}", $"/api/studies/{TestData.StudyExternalId}/results.csv", $"/api/patients/{data.PatientId}/metrics.csv" })
        {
            var response = await client.GetAsync(path);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode}");
            Assert.True(response.Headers.CacheControl?.NoStore, $"{path}: Cache-Control {response.Headers.CacheControl}");
            Assert.Equal("same-origin", response.Headers.GetValues("Cross-Origin-Resource-Policy").Single());
        }
        // The stylesheet and script hold none: kept, and revalidated by their ETag rather than sent with every page.
        foreach (var path in new[] { "/css/site.css", "/js/site.js" })
        {
            var response = await client.GetAsync(path);
            Assert.True((response.IsSuccessStatusCode, response.Headers.CacheControl?.NoCache, response.Headers.CacheControl?.NoStore) == (true, true, false),
                $"{path}: {response.StatusCode}, Cache-Control {response.Headers.CacheControl}");
            using var again = new HttpRequestMessage(HttpMethod.Get, path);
            again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
            Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again)).StatusCode);
        }
    }
}
