using System.Net;
using static NfcPipeline.Dashboard.Tests.AuthTests;

namespace NfcPipeline.Dashboard.Tests;

public sealed class AntiforgeryCookieTests
{
    [Fact]
    public async Task The_antiforgery_cookie_is_Secure_when_a_trusted_proxy_says_the_browser_used_https()
    {
        await using var data = await TestData.CreateAsync();
        var settings = Users();
        settings["Dashboard:TrustedProxies:0"] = "127.0.0.1";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        async Task<string> CookieFor(string? forwardedProto)
        {
            using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });
            client.DefaultRequestHeaders.Authorization = Basic("olga", "op-pass");
            if (forwardedProto is not null) client.DefaultRequestHeaders.Add("X-Forwarded-Proto", forwardedProto);
            var response = await client.GetAsync("/jobs");   // an operator's jobs page holds forms
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("nfc-af=", StringComparison.Ordinal));
        }

        Assert.Contains("secure", (await CookieFor("https")).ToLowerInvariant());
        Assert.Contains("secure", (await CookieFor("http, https")).ToLowerInvariant());   // the proxy's own (last) entry
        var plain = await CookieFor(null);
        Assert.DoesNotContain("secure", plain.ToLowerInvariant());
        Assert.Contains("httponly", plain.ToLowerInvariant());
        Assert.Contains("samesite=strict", plain.ToLowerInvariant());
        Assert.DoesNotContain("secure", (await CookieFor("https, http")).ToLowerInvariant());   // a client's claim before the proxy's
    }

    [Fact]
    public async Task An_untrusted_caller_saying_https_gets_no_Secure_cookie()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Users());
        using var client = host.Client(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });
        client.DefaultRequestHeaders.Authorization = Basic("olga", "op-pass");
        client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        var response = await client.GetAsync("/jobs");
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("nfc-af=", StringComparison.Ordinal));
        Assert.DoesNotContain("secure", cookie.ToLowerInvariant());
    }
}
