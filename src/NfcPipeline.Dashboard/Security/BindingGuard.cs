using System.Net;
using NfcPipeline.Contracts;
using NfcPipeline.Dashboard.Hosting;

namespace NfcPipeline.Dashboard.Security;

/// <summary>Refuses a non-loopback binding unless authentication is configured, and malformed or empty users' passwords or keys.</summary>
public static class BindingGuard
{
    public static void Validate(DashboardOptions options, IEnumerable<string> extraEndpointUrls)
    {
        foreach (var user in options.Users)
        {
            bool slow = !string.IsNullOrEmpty(user.PasswordHash);
            if (string.IsNullOrWhiteSpace(user.Name) || slow == IsSha256Hex(user.PasswordSha256))
                throw new DashboardConfigurationException("every Dashboard:Users entry needs a Name and one of PasswordHash " +
                    "(from `nfc hash-password`) or PasswordSha256 (64 hex digits).");
            if (slow && PasswordHashes.Problem(user.PasswordHash!) is { } problem)
                throw new DashboardConfigurationException($"Dashboard:Users '{user.Name}' PasswordHash: {problem}.");
            if (slow && PasswordHashes.Verify("", user.PasswordHash!))
                throw new DashboardConfigurationException($"Dashboard:Users '{user.Name}' has the hash of an empty password; set a password.");
            if (!slow && IsEmptyStringHash(user.PasswordSha256))
                throw new DashboardConfigurationException($"Dashboard:Users '{user.Name}' has the SHA-256 of an empty password; set a password.");
            if (!slow && CommonPasswords.Any(p => user.PasswordSha256.Equals(DashboardAuthHandler.Sha256Hex(p), StringComparison.OrdinalIgnoreCase)))
                throw new DashboardConfigurationException($"Dashboard:Users '{user.Name}' has the SHA-256 of a password everyone tries first " +
                    "(\"password\", \"admin\", ...); set another, preferably as a PasswordHash from `nfc hash-password`.");
            if (!DashboardRoles.IsKnown(user.Role))
                throw new DashboardConfigurationException($"Dashboard:Users role '{user.Role}' is unknown; use '{DashboardRoles.Operator}' or '{DashboardRoles.ReadOnly}'.");
            // Basic auth splits at the first colon: such a user could never sign in.
            if (user.Name.Contains(':')) throw new DashboardConfigurationException($"Dashboard:Users name '{user.Name}' contains a colon, which basic auth cannot carry.");
        }
        // Sign-in takes the first entry of a name: a second one's password and role were ignored unsaid.
        if (options.Users.GroupBy(u => u.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new DashboardConfigurationException($"Dashboard:Users names '{twice.Key}' {twice.Count()} times; each user is one entry.");
        foreach (var proxy in options.TrustedProxies)
            if (!IPAddress.TryParse(proxy, out _))
                throw new DashboardConfigurationException($"Dashboard:TrustedProxies '{proxy}' is not an IP address.");
        foreach (var key in options.ApiKeys)
        {
            if (string.IsNullOrWhiteSpace(key.Name) || !IsSha256Hex(key.KeySha256))
                throw new DashboardConfigurationException("every Dashboard:ApiKeys entry needs a Name and a KeySha256 (64 hex digits).");
            if (IsEmptyStringHash(key.KeySha256))
                throw new DashboardConfigurationException($"Dashboard:ApiKeys '{key.Name}' has the SHA-256 of an empty key; set a key.");
            if (!DashboardRoles.IsKnown(key.Role))
                throw new DashboardConfigurationException($"Dashboard:ApiKeys role '{key.Role}' is unknown; use '{DashboardRoles.Operator}' or '{DashboardRoles.ReadOnly}'.");
        }
        // Bounded: "all images" written as int.MaxValue wrapped the page's limit + 1, and every study page answered 500.
        if (options.StudyImagesPageSize is < 1 or > DashboardOptions.MaxStudyImagesPageSize)
            throw new DashboardConfigurationException($"Dashboard:StudyImagesPageSize must be 1 to {DashboardOptions.MaxStudyImagesPageSize}.");
        if (options.MaxConcurrentOverlays < 1) throw new DashboardConfigurationException("Dashboard:MaxConcurrentOverlays must be at least 1.");
        if (!(options.ShareTimeout >= TimeSpan.FromSeconds(1) && options.ShareTimeout <= TimeSpan.FromMinutes(5)))
            throw new DashboardConfigurationException("Dashboard:ShareTimeout must be 1 second to 5 minutes (hh:mm:ss).");
        if (!(options.SubmissionCheckTimeout >= TimeSpan.FromSeconds(1) && options.SubmissionCheckTimeout <= TimeSpan.FromMinutes(10)))
            throw new DashboardConfigurationException("Dashboard:SubmissionCheckTimeout must be 1 second to 10 minutes (hh:mm:ss).");
        if (options.MaxConcurrentShareChecks is < 1 or > 64) throw new DashboardConfigurationException("Dashboard:MaxConcurrentShareChecks must be 1 to 64.");
        if (options.MaxConcurrentExports is < 1 or > 64) throw new DashboardConfigurationException("Dashboard:MaxConcurrentExports must be 1 to 64.");
        if (!(options.ExportQueueWait >= TimeSpan.Zero && options.ExportQueueWait <= TimeSpan.FromMinutes(10)))
            throw new DashboardConfigurationException("Dashboard:ExportQueueWait must be 0 to 10 minutes (hh:mm:ss).");
        if (options.MaxJsonBodyBytes < 1024) throw new DashboardConfigurationException("Dashboard:MaxJsonBodyBytes must be at least 1024.");
        if (options.MaxConcurrentPasswordChecks < 0) throw new DashboardConfigurationException("Dashboard:MaxConcurrentPasswordChecks must be 0 (half the cores) or more.");
        if (options.MaxFailedSignIns < 1 || !(options.FailedSignInWindow > TimeSpan.Zero))
            throw new DashboardConfigurationException("Dashboard:MaxFailedSignIns must be at least 1 and Dashboard:FailedSignInWindow positive.");
        if (options.AuthConfigured) return;
        foreach (var url in SplitUrls(options.Urls).Concat(extraEndpointUrls))
            if (!ListenAddress.IsLoopbackUrl(url))
                throw new DashboardConfigurationException(
                    $"{url} is not a loopback address and no authentication is configured. Configure Dashboard:Users " +
                    "(basic auth for the UI) and/or Dashboard:ApiKeys (X-Api-Key for the API), or bind http://127.0.0.1:PORT.");
    }

    public static IReadOnlyList<string> SplitUrls(string? urls) =>
        (string.IsNullOrWhiteSpace(urls) ? DashboardOptions.DefaultUrls : urls).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Passwords a guesser tries first, refused as unsalted SHA-256 (one of them was once this project's docs' example).</summary>
    private static readonly string[] CommonPasswords =
        ["password", "admin", "operator", "secret", "changeme", "letmein", "123456", "12345678", "qwerty", "nfc", "dashboard"];

    /// <summary>Whether a password is one everyone tries first (in any letter case), which `nfc hash-password` refuses.</summary>
    public static bool IsCommonPassword(string password) =>
        CommonPasswords.Contains(password.Trim(), StringComparer.OrdinalIgnoreCase);

    private static bool IsSha256Hex(string value) => value.Length == 64 && value.All(Uri.IsHexDigit);

    // What `printf '' | sha256sum` gives, e.g. from an unset variable: it would let anyone in with no password.
    private static bool IsEmptyStringHash(string value) =>
        value.Equals(DashboardAuthHandler.Sha256Hex(""), StringComparison.OrdinalIgnoreCase);
}
