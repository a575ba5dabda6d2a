namespace NfcPipeline.Dashboard.Hosting;

/// <summary>The "Dashboard" configuration section.</summary>
public sealed class DashboardOptions
{
    public const string Section = "Dashboard";
    public const string DefaultUrls = "http://127.0.0.1:5080";

    /// <summary>Where Kestrel listens, ';'-separated. Anything but loopback requires <see cref="Users"/> or <see cref="ApiKeys"/>.</summary>
    public string Urls { get; set; } = DefaultUrls;

    /// <summary>The watched share; studies.source_path and POST /api/studies paths are relative to it.</summary>
    public string? ShareRoot { get; set; }

    /// <summary>UI users (HTTP basic auth). The API accepts them too.</summary>
    public List<DashboardUser> Users { get; set; } = [];

    /// <summary>API keys, sent in the X-Api-Key header.</summary>
    public List<DashboardApiKey> ApiKeys { get; set; } = [];

    /// <summary>Images listed per page on a study's page (a large study's images are paged, not cut off).</summary>
    public int StudyImagesPageSize { get; set; } = 500;

    /// <summary>The most images one study page lists (each is a table row of the page).</summary>
    public const int MaxStudyImagesPageSize = 100_000;

    /// <summary>
    /// Overlays decoded and drawn at once: each holds a full decoded image (up to the decoder's 50-megapixel limit,
    /// 150 MB) and its copy, so requests beyond this wait their turn instead of exhausting the dashboard's memory.
    /// </summary>
    public int MaxConcurrentOverlays { get; set; } = 2;

    /// <summary>
    /// How long an overlay waits for the share to find and read its image (a hung mount answers never): then 503. A
    /// render waits up to three times this for a free slot.
    /// </summary>
    public TimeSpan ShareTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a submission (POST /api/studies) waits for the share to check its folder or paths (a walk of up to
    /// 200,000 entries) and for a free check slot: then 503. Longer than <see cref="ShareTimeout"/>: a large folder on a
    /// slow mount takes a while, yet answers.
    /// </summary>
    public TimeSpan SubmissionCheckTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Submissions whose share checks run at once; a hung mount holds at most this many threads.</summary>
    public int MaxConcurrentShareChecks { get; set; } = 4;

    /// <summary>
    /// Study CSV exports streamed at once. Each holds a database connection and an open query for as long as its
    /// client takes to download, so slow downloads beyond this are answered 503 (Retry-After) after
    /// <see cref="ExportQueueWait"/> rather than take the pool every page needs.
    /// </summary>
    public int MaxConcurrentExports { get; set; } = 4;

    /// <summary>How long an export waits for one of <see cref="MaxConcurrentExports"/> before its 503.</summary>
    public TimeSpan ExportQueueWait { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The largest JSON body the API reads (8 MiB: a listed submission of StudiesApi.MaxListedImages paths fits well);
    /// a larger one is a 413. Kestrel's own default, 30 MB, would let any caller make the dashboard parse that much.
    /// </summary>
    public long MaxJsonBodyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Failed sign-ins from one address within <see cref="FailedSignInWindow"/> before its sign-ins are refused until the window ends.</summary>
    public int MaxFailedSignIns { get; set; } = 10;

    public TimeSpan FailedSignInWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Slow (PBKDF2) password checks running at once, from all addresses together; a sign-in beyond them is answered
    /// 429 at once. Each check takes a core for a fraction of a second, so guesses from many addresses would otherwise
    /// take every core. 0: half the cores, at least 1.
    /// </summary>
    public int MaxConcurrentPasswordChecks { get; set; }

    public int PasswordCheckLimit => MaxConcurrentPasswordChecks > 0 ? MaxConcurrentPasswordChecks : Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>
    /// Addresses of reverse proxies in front of the dashboard. A request from one of them is counted, for the failed
    /// sign-in limit, under the client address the proxy appended to X-Forwarded-For; otherwise every caller would share
    /// the proxy's address, and one guesser would lock everyone out. Empty: the header is ignored.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    public bool AuthConfigured => Users.Count > 0 || ApiKeys.Count > 0;

    /// <summary>Whether the connection comes from one of <see cref="TrustedProxies"/> (an IPv4-mapped address as IPv4).</summary>
    public bool IsTrustedProxy(System.Net.IPAddress? remote)
    {
        if (remote is null) return false;
        if (remote.IsIPv4MappedToIPv6) remote = remote.MapToIPv4();
        return TrustedProxies.Any(p => System.Net.IPAddress.TryParse(p, out var proxy) && proxy.Equals(remote));
    }
}

public sealed class DashboardUser
{
    public string Name { get; set; } = "";
    /// <summary>Lower-case hex SHA-256 of the password (printf %s 'password' | sha256sum).</summary>
    public string PasswordSha256 { get; set; } = "";

    /// <summary>A salted slow hash (<c>pbkdf2-sha256$…</c>, from <c>nfc hash-password</c>); give this or PasswordSha256.</summary>
    public string? PasswordHash { get; set; }
    /// <summary>"operator" or "read-only".</summary>
    public string Role { get; set; } = DashboardRoles.ReadOnly;
}

public sealed class DashboardApiKey
{
    public string Name { get; set; } = "";
    /// <summary>Lower-case hex SHA-256 of the key; the key itself is never stored.</summary>
    public string KeySha256 { get; set; } = "";
    public string Role { get; set; } = DashboardRoles.ReadOnly;
}

public static class DashboardRoles
{
    public const string Operator = "operator";
    public const string ReadOnly = "read-only";
    public const string OperatorPolicy = "operator";
    public static bool IsKnown(string role) => role is Operator or ReadOnly;
}

/// <summary>A configuration the dashboard refuses to start with; the message says what to fix.</summary>
public sealed class DashboardConfigurationException(string message) : Exception(message);
