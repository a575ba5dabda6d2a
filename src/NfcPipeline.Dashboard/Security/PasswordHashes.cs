using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace NfcPipeline.Dashboard.Security;

/// <summary>
/// Salted, slow password hashes for dashboard users: <c>pbkdf2-sha256$ITERATIONS$SALT$HASH</c> (salt and hash in
/// base64), so a leaked configuration does not give the passwords away at GPU speed as plain SHA-256 would.
/// <c>nfc hash-password</c> writes one.
/// </summary>
public static class PasswordHashes
{
    public const string Scheme = "pbkdf2-sha256";
    public const int DefaultIterations = 600_000;   // OWASP's figure for PBKDF2-HMAC-SHA256
    public const int MinIterations = 100_000;
    /// <summary>Past this every sign-in would hold a core for seconds (the check runs at each new session).</summary>
    public const int MaxIterations = 10_000_000;
    private const int SaltBytes = 16, HashBytes = 32;

    public static string Create(string password, int iterations = DefaultIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    /// <summary>Why <paramref name="encoded"/> is no usable hash, or null.</summary>
    public static string? Problem(string encoded) => TryParse(encoded, out _, out _, out _) ? null
        : $"expected {Scheme}$ITERATIONS$SALT$HASH with {MinIterations} to {MaxIterations} iterations, a salt of at least {SaltBytes} bytes " +
          $"and a {HashBytes}-byte hash (base64); `nfc hash-password` writes one";

    /// <summary>A key derivation of <paramref name="iterations"/> whose result is thrown away: the time of a check where none is.</summary>
    public static void Spend(string password, int iterations)
    {
        if (iterations > 0) _ = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), new byte[SaltBytes], iterations, HashAlgorithmName.SHA256, HashBytes);
    }

    /// <summary>The iteration count of a usable hash, else 0 (none, or not one of ours).</summary>
    public static int IterationsOf(string? encoded) => encoded is { Length: > 0 } && TryParse(encoded, out int n, out _, out _) ? n : 0;

    public static bool Verify(string password, string encoded)
    {
        if (!TryParse(encoded, out int iterations, out var salt, out var expected)) return false;
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static bool TryParse(string encoded, out int iterations, out byte[] salt, out byte[] hash)
    {
        (iterations, salt, hash) = (0, [], []);
        var parts = (encoded ?? "").Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], out iterations)
            || iterations is < MinIterations or > MaxIterations) return false;
        try { (salt, hash) = (Convert.FromBase64String(parts[2]), Convert.FromBase64String(parts[3])); }
        catch (FormatException) { return false; }
        return salt.Length >= SaltBytes && hash.Length == HashBytes;
    }
}

/// <summary>
/// Basic credentials come with every request, and a slow hash per request would hold a core for each page. A
/// verified (user, hash, password) is remembered, as a SHA-256 of the three, for a few minutes.
/// </summary>
public sealed class PasswordVerifier(TimeProvider clock)
{
    private static readonly TimeSpan Remember = TimeSpan.FromMinutes(5);
    private const int MaxRemembered = 1_000;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _verified = new();

    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool?>> _checking = new();

    /// <summary>
    /// True when these credentials were verified within the last few minutes, counted from their latest use: no slow
    /// check is needed.
    /// </summary>
    public bool IsRemembered(string user, string password, string encoded)
    {
        var key = Key(user, password, encoded);
        var now = clock.GetUtcNow();
        if (!_verified.TryGetValue(key, out var until) || until <= now) return false;
        _verified[key] = now + Remember;
        return true;
    }

    /// <summary>
    /// True: this caller checks these credentials and then calls <see cref="Conclude"/>. False: a check of the same
    /// credentials is under way, and <paramref name="outcome"/> is its result (true verified, false refused, null not
    /// checked: no slot was free).
    /// </summary>
    public bool Lead(string user, string password, string encoded, out Task<bool?> outcome)
    {
        var mine = new TaskCompletionSource<bool?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = _checking.GetOrAdd(Key(user, password, encoded), mine);
        outcome = held.Task;
        return ReferenceEquals(held, mine);
    }

    /// <summary>Ends the check <see cref="Lead"/> gave this caller, answering those who waited on it.</summary>
    public void Conclude(string user, string password, string encoded, bool? verified)
    {
        if (_checking.TryRemove(Key(user, password, encoded), out var check)) check.TrySetResult(verified);
    }

    public bool Verify(string user, string password, string encoded)
    {
        var key = Key(user, password, encoded);
        var now = clock.GetUtcNow();
        if (_verified.TryGetValue(key, out var until) && until > now) return true;
        if (!PasswordHashes.Verify(password, encoded)) return false;
        if (_verified.Count >= MaxRemembered) _verified.Clear();
        _verified[key] = now + Remember;
        return true;
    }

    private static string Key(string user, string password, string encoded) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{user}\0{encoded}\0{password}")));
}
