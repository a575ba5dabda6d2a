using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace NfcPipeline.Dashboard.Html;

/// <summary>
/// The one-line notice a page shows after an action (<c>?message=</c>). The text travels protected by the dashboard's
/// data-protection keys and expires, so a crafted link cannot put words of its own on the dashboard.
/// </summary>
public static class Flash
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private static ITimeLimitedDataProtector Protector(HttpContext context) => context.RequestServices
        .GetRequiredService<IDataProtectionProvider>().CreateProtector("NfcPipeline.Dashboard.Flash").ToTimeLimitedDataProtector();

    /// <summary>A redirect to <paramref name="pathAndQuery"/> whose page shows <paramref name="message"/>.</summary>
    public static IResult Redirect(HttpContext context, string pathAndQuery, string message) =>
        Results.Redirect($"{pathAndQuery}{(pathAndQuery.Contains('?') ? '&' : '?')}message={H.Q(Protector(context).Protect(message, Lifetime))}");

    /// <summary>The notice, or nothing when there is none, it was not issued by this dashboard, or it has expired.</summary>
    public static HtmlText Show(HttpContext context, string? token)
    {
        if (string.IsNullOrEmpty(token)) return HtmlText.Empty;
        try { return H.Html($"<p class=\"flash\">{Protector(context).Unprotect(token)}</p>"); }
        catch (CryptographicException) { return HtmlText.Empty; }
    }
}
