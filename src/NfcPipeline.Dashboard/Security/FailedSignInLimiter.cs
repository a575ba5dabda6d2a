using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using NfcPipeline.Dashboard.Hosting;

namespace NfcPipeline.Dashboard.Security;

/// <summary>
/// Counts failed sign-ins (basic credentials or API keys) per client address. Once an address reaches
/// <see cref="DashboardOptions.MaxFailedSignIns"/> within <see cref="DashboardOptions.FailedSignInWindow"/>, its
/// sign-ins are refused unchecked until that window ends, so passwords cannot be guessed at full speed.
/// </summary>
public sealed class FailedSignInLimiter(IOptions<DashboardOptions> options, TimeProvider clock)
{
    private const int PruneAbove = 10_000;   // addresses remembered before stale windows are dropped
    private long _nextPrune;                 // ticks: a prune walks every address, so at most one a second
    private readonly ConcurrentDictionary<string, (int Count, DateTimeOffset Start)> _failures = new();
    private readonly Dictionary<string, int> _checking = new();
    private int _derivations;
    private readonly Lock _lock = new();

    /// <summary>Addresses (or networks) remembered with failures, stale ones until the next prune.</summary>
    public int Count => _failures.Count;

    public bool IsLockedOut(string client) => Failures(client) >= options.Value.MaxFailedSignIns;

    /// <summary>
    /// Admits one slow password check for <paramref name="client"/>, or false when its failures plus the checks it
    /// has running would reach the limit: a slow check takes long enough that parallel guesses would otherwise all
    /// pass the lockout before the first failure is counted. Each admitted check ends with <see cref="EndCheck"/>.
    /// </summary>
    public bool TryBeginCheck(string client)
    {
        lock (_lock)
        {
            int running = _checking.GetValueOrDefault(client);
            if (Failures(client) + running >= options.Value.MaxFailedSignIns) return false;
            _checking[client] = running + 1;
            return true;
        }
    }

    public void EndCheck(string client)
    {
        lock (_lock)
        {
            if (!_checking.TryGetValue(client, out var running)) return;
            if (running <= 1) _checking.Remove(client);
            else _checking[client] = running - 1;
        }
    }

    /// <summary>
    /// Admits one key derivation (a slow hash checked, or a refusal made as slow), or false while
    /// <see cref="DashboardOptions.PasswordCheckLimit"/> run from all addresses together. Ends with <see cref="EndKeyDerivation"/>.
    /// </summary>
    public bool TryBeginKeyDerivation()
    {
        lock (_lock)
        {
            if (_derivations >= options.Value.PasswordCheckLimit) return false;
            _derivations++;
            return true;
        }
    }

    public void EndKeyDerivation() { lock (_lock) _derivations--; }

    /// <summary>Slow checks running for <paramref name="client"/>.</summary>
    public int ChecksRunning(string client) { lock (_lock) return _checking.GetValueOrDefault(client); }

    /// <summary>How long until <paramref name="client"/>'s window ends (and with it a lockout), at least a second.</summary>
    public TimeSpan UntilWindowEnds(string client)
    {
        if (!_failures.TryGetValue(client, out var f)) return TimeSpan.FromSeconds(1);
        var left = f.Start + options.Value.FailedSignInWindow - clock.GetUtcNow();
        return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
    }

    /// <summary>The failures counted for <paramref name="client"/> in its current window.</summary>
    public int Failures(string client) => _failures.TryGetValue(client, out var f) && !Expired(f.Start) ? f.Count : 0;

    /// <summary>Records a failure; true when this one reaches the limit (to log the lockout once).</summary>
    public bool RecordFailure(string client)
    {
        var now = clock.GetUtcNow();
        long due = Interlocked.Read(ref _nextPrune);
        // Count takes every bucket's lock: asked at most once a second, not on every failure of a flood.
        if (now.UtcTicks >= due && Interlocked.CompareExchange(ref _nextPrune, now.AddSeconds(1).UtcTicks, due) == due
            && _failures.Count > PruneAbove)
            foreach (var (key, value) in _failures)
                if (Expired(value.Start)) _failures.TryRemove(key, out _);
        var updated = _failures.AddOrUpdate(client, _ => (1, now), (_, f) => Expired(f.Start) ? (1, now) : (f.Count + 1, f.Start));
        return updated.Count == options.Value.MaxFailedSignIns;
    }

    /// <summary>
    /// The key failures are counted under: an IPv4 address, or an IPv6 address's /64 network, since one host is given a
    /// whole /64 and could otherwise guess from a fresh address every time.
    /// </summary>
    public static string ClientKey(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>An address as a proxy forwards it ("203.0.113.9", "203.0.113.9:1111", "[2001:db8::1]:443"), or null.</summary>
    public static IPAddress? ParseForwarded(string value)
    {
        value = value.Trim();
        if (IPAddress.TryParse(value, out var address)) return address;
        return IPEndPoint.TryParse(value, out var endPoint) ? endPoint.Address : null;
    }

    private bool Expired(DateTimeOffset start) => clock.GetUtcNow() - start >= options.Value.FailedSignInWindow;
}
