using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using NfcPipeline.Dashboard.Hosting;

namespace NfcPipeline.Dashboard.Security;

/// <summary>
/// One scheme for UI and API: an X-Api-Key header or HTTP basic credentials, checked against SHA-256 hashes from
/// configuration. With nothing configured (only allowed on loopback) a loopback caller is the local operator.
/// </summary>
public sealed class DashboardAuthHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory logger, UrlEncoder encoder,
    IOptions<DashboardOptions> dashboardOptions, FailedSignInLimiter limiter, PasswordVerifier passwords)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    public const string SchemeName = "NfcDashboard";
    public const string ApiKeyHeader = "X-Api-Key";
    public const string LocalUser = "local";

    /// <summary>Whom failed sign-ins are counted against: the connection's address, or behind a trusted proxy the client it forwarded.</summary>
    private string ClientAddress(DashboardOptions options)
    {
        var remote = Context.Connection.RemoteIpAddress;
        if (remote is null) return "unknown";
        if (remote.IsIPv4MappedToIPv6) remote = remote.MapToIPv4();
        // The entry the proxy itself appended (those before it are the client's to forge), as an address: with a port or
        // text that is none, every connection would count as a new client.
        if (options.IsTrustedProxy(remote)
            && Request.Headers["X-Forwarded-For"].ToString().Split(',') is [.., var last]
            && FailedSignInLimiter.ParseForwarded(last) is { } forwarded)
            return FailedSignInLimiter.ClientKey(forwarded);
        return FailedSignInLimiter.ClientKey(remote);
    }

    /// <summary>Headers common reverse proxies add (nginx's X-Real-IP, the de-facto X-Forwarded-*, RFC 7239, Via).</summary>
    private static readonly string[] ProxyHeaders = ["X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host", "X-Forwarded-Proto", "Via"];

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var options = dashboardOptions.Value;
        if (!options.AuthConfigured)
        {
            // A reverse proxy on this host also connects from loopback; its forwarding headers show a remote caller.
            // A non-loopback Host name means a page of another site reached us by DNS rebinding. A heuristic: a proxy
            // that adds none of these and keeps a loopback Host is not seen, which is why a proxy needs users.
            var proxied = ProxyHeaders.Any(Request.Headers.ContainsKey);
            var loopbackHost = NfcPipeline.Contracts.ListenAddress.IsLoopbackUrl("http://" + Request.Host.Value);
            return Task.FromResult(!proxied && loopbackHost && Context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote)
                ? Success(LocalUser, DashboardRoles.Operator, "local")
                : AuthenticateResult.Fail("No authentication is configured and the caller is not on loopback."));
        }
        var client = ClientAddress(options);
        bool offersCredentials = Request.Headers.ContainsKey(ApiKeyHeader)
            || Request.Headers.Authorization.ToString().StartsWith("Basic ", StringComparison.OrdinalIgnoreCase);
        if (offersCredentials && limiter.IsLockedOut(client))
            return Task.FromResult(LockedOut(client));
        if (Request.Headers.TryGetValue(ApiKeyHeader, out var keyValues) && keyValues.ToString() is { Length: > 0 } key)
        {
            var hash = Sha256Hex(key);
            var match = options.ApiKeys.FirstOrDefault(k => FixedEquals(k.KeySha256, hash));
            return Task.FromResult(match is null ? Failed(client, "Unknown API key.") : Success(match.Name, match.Role, "api-key"));
        }
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            string decoded;
            try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim())); }
            catch (FormatException) { return Task.FromResult(AuthenticateResult.Fail("Malformed basic credentials.")); }
            var colon = decoded.IndexOf(':');
            if (colon <= 0) return Task.FromResult(AuthenticateResult.Fail("Malformed basic credentials."));
            var (name, password) = (decoded[..colon], decoded[(colon + 1)..]);
            var user = options.Users.FirstOrDefault(u => u.Name == name);
            var hash = user?.PasswordHash is { Length: > 0 } slow ? slow : "";
            if (hash.Length > 0 && passwords.IsRemembered(name, password, hash)) return Task.FromResult(Success(user!.Name, user.Role, "basic"));
            // A page's parallel requests (a gallery's overlays) once the remembered time ran out: one checks, the others
            // take its outcome, rather than each wanting a check slot and all but one answered 429. For every name,
            // known or not and of either hash: coalesced for some names only, the answers would tell which exist.
            if (!passwords.Lead(name, password, hash, out var outcome))
                return FollowAsync(outcome, client, user);
            bool? verified = null;
            try
            {
                var result = CheckBasic(options, client, name, password, user);
                verified = result.Succeeded ? true : Context.Items.ContainsKey(LockedOutItem) ? null : false;
                return Task.FromResult(result);
            }
            finally { passwords.Conclude(name, password, hash, verified); }
        }
        return Task.FromResult(AuthenticateResult.NoResult());
    }

    private async Task<AuthenticateResult> FollowAsync(Task<bool?> outcome, string client, DashboardUser? user) => await outcome switch
    {
        true when user is not null => Success(user.Name, user.Role, "basic"),
        null => LockedOut(client, checksRunning: true),
        _ => Failed(client, "Wrong user name or password."),
    };

    /// <summary>Basic credentials checked against the configured users, in a check slot where any user has a slow hash.</summary>
    private AuthenticateResult CheckBasic(DashboardOptions options, string client, string name, string password, DashboardUser? user)
    {
        // Where any user has a slow hash, every refusal takes as long as one, whatever the name and its kind of
        // hash, so that timing does not tell which names exist. The slot is taken before any check, the fast one
        // too: a guess checked while refused a slot would be answered without being counted.
        int slowest = options.Users.Select(u => PasswordHashes.IterationsOf(u.PasswordHash)).DefaultIfEmpty(0).Max();
        if (slowest > 0 && !limiter.TryBeginCheck(client))
            return LockedOut(client, checksRunning: true);
        try
        {
            // A SHA-256 user's check is fast; it runs for every name (an unknown one against zeros, which nothing matches).
            string fastExpected = user is { PasswordHash: null or "", PasswordSha256: { Length: > 0 } sha } ? sha : NoHash;
            if (FixedEquals(fastExpected, Sha256Hex(password)) && user is not null)
                return Success(user.Name, user.Role, "basic");
            if (slowest == 0) return Failed(client, "Wrong user name or password.");
            // Key derivations from all addresses together are bounded, or guesses from many would take every core.
            // Refused one, a SHA-256 user's wrong password, checked already, still counts.
            if (!limiter.TryBeginKeyDerivation())
            {
                if (!ReferenceEquals(fastExpected, NoHash)) Failed(client, "Wrong user name or password.");
                return LockedOut(client, checksRunning: true);
            }
            try
            {
                if (user?.PasswordHash is { Length: > 0 } slow && passwords.Verify(name, password, slow))
                    return Success(user.Name, user.Role, "basic");
                // Topped up to the slowest configured count: a user whose hash has fewer iterations is refused as slowly.
                PasswordHashes.Spend(password, slowest - PasswordHashes.IterationsOf(user?.PasswordHash));
                return Failed(client, "Wrong user name or password.");
            }
            finally { limiter.EndKeyDerivation(); }
        }
        finally
        {
            if (slowest > 0) limiter.EndCheck(client);
        }
    }

    private const string LockedOutItem = "nfc.sign-in-locked-out";

    /// <summary>
    /// A sign-in refused unchecked: the challenge then says so (429), rather than ask for credentials again. With
    /// <paramref name="checksRunning"/>, the address is not locked out yet, only at its limit of checks under way.
    /// </summary>
    private AuthenticateResult LockedOut(string client, bool checksRunning = false)
    {
        Context.Items[LockedOutItem] = checksRunning ? (TimeSpan?)null : limiter.UntilWindowEnds(client);
        return AuthenticateResult.Fail("Too many failed sign-ins from this address; try again later.");
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.TryGetValue(LockedOutItem, out var item))
        {
            // A 401 looked like a wrong password: a browser asked again, and the right one was refused without a word.
            var seconds = item is TimeSpan wait ? (int)Math.Ceiling(wait.TotalSeconds) : 1;
            Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var detail = item is TimeSpan
                ? $"Too many failed sign-ins from this address; sign-ins from it are refused for {seconds} s more."
                // The check slots of this address, or those of all addresses together: either way not this address's fault.
                : "Too many sign-ins are being checked at once; try again in a second.";
            if (DashboardServiceExtensions.AnswersProblemDetails(Request)) await Results.Problem(title: "Too many failed sign-ins", detail: detail, statusCode: 429).ExecuteAsync(Context);
            else
            {
                Response.StatusCode = StatusCodes.Status429TooManyRequests;
                Response.ContentType = "text/plain; charset=utf-8";
                await Response.WriteAsync(detail);
            }
            return;
        }
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        // RFC 9110 requires the challenge on every 401; clients that wait for it before sending credentials need it.
        Response.Headers.WWWAuthenticate = "Basic realm=\"NFC dashboard\", charset=\"UTF-8\"";
        if (DashboardServiceExtensions.AnswersProblemDetails(Request))
        {
            await Results.Problem(title: "Authentication required", detail: $"Send an {ApiKeyHeader} header or basic credentials.",
                statusCode: 401).ExecuteAsync(Context);
            return;
        }
        Response.ContentType = "text/plain; charset=utf-8";
        await Response.WriteAsync("Authentication required.");
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        if (DashboardServiceExtensions.AnswersProblemDetails(Request))
        {
            await Results.Problem(title: "Forbidden", detail: "This action needs the operator role.", statusCode: 403).ExecuteAsync(Context);
            return;
        }
        Response.ContentType = "text/plain; charset=utf-8";
        await Response.WriteAsync("Forbidden: this action needs the operator role.");
    }

    private AuthenticateResult Failed(string client, string reason)
    {
        if (limiter.RecordFailure(client))
            Logger.LogWarning("Sign-ins from {Client} refused for up to {Window} after {Count} failures",
                client, dashboardOptions.Value.FailedSignInWindow, dashboardOptions.Value.MaxFailedSignIns);
        return AuthenticateResult.Fail(reason);
    }

    private static readonly string NoHash = new('0', 64);

    public static string Sha256Hex(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    private static bool FixedEquals(string expectedHex, string actualHex) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expectedHex.ToLowerInvariant()), Encoding.ASCII.GetBytes(actualHex));

    private AuthenticateResult Success(string name, string role, string method)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], method);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
