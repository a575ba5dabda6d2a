using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NfcPipeline.Dashboard.Hosting;

namespace NfcPipeline.Dashboard.Security;

/// <summary>
/// The antiforgery cookie, marked Secure when the browser reached us over HTTPS: directly, or through a trusted proxy
/// that terminated TLS and said so in X-Forwarded-Proto (the connection from it is plain HTTP, so SameAsRequest alone
/// sent the cookie unmarked, and a browser would send it back over HTTP too).
/// </summary>
internal sealed class AntiforgeryCookie : CookieBuilder
{
    public AntiforgeryCookie(CookieBuilder defaults)
    {
        Name = "nfc-af";
        Path = defaults.Path;
        HttpOnly = defaults.HttpOnly;
        SameSite = defaults.SameSite;
        IsEssential = defaults.IsEssential;
        SecurePolicy = CookieSecurePolicy.SameAsRequest;
    }

    public override CookieOptions Build(HttpContext context, DateTimeOffset expiresFrom)
    {
        var options = base.Build(context, expiresFrom);
        options.Secure |= ViaHttpsProxy(context);
        return options;
    }

    /// <summary>A trusted proxy's own entry (the last) says https; entries a client sent before it are not read.</summary>
    internal static bool ViaHttpsProxy(HttpContext context) =>
        context.RequestServices.GetRequiredService<IOptions<DashboardOptions>>().Value.IsTrustedProxy(context.Connection.RemoteIpAddress)
        && context.Request.Headers["X-Forwarded-Proto"].ToString().Split(',') is [.., var last]
        && last.Trim().Equals("https", StringComparison.OrdinalIgnoreCase);
}
