using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Dashboard.Security;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>How failed sign-ins are counted (the dashboard's use of it: AuthTests).</summary>
public class FailedSignInLimiterTests
{
    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64")]   // one host's /64: one client
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::/64")]
    [InlineData("203.0.113.9", "203.0.113.9")]
    [InlineData("::ffff:203.0.113.9", "203.0.113.9")]
    public void Failures_are_counted_per_ipv4_address_and_per_ipv6_network(string address, string key) =>
        Assert.Equal(key, FailedSignInLimiter.ClientKey(System.Net.IPAddress.Parse(address)));

    [Theory]
    [InlineData(" 203.0.113.9", "203.0.113.9")]
    [InlineData("203.0.113.9:1111", "203.0.113.9")]
    [InlineData("[2001:db8::1]:443", "2001:db8::1")]
    [InlineData("unknown", null)]
    public void A_forwarded_address_is_read_without_its_port(string forwarded, string? address) =>
        Assert.Equal(address, FailedSignInLimiter.ParseForwarded(forwarded)?.ToString());

    [Fact]
    public void Checks_in_flight_count_against_the_limit_until_they_end()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new DashboardOptions { MaxFailedSignIns = 3, FailedSignInWindow = TimeSpan.FromMinutes(5) });
        var limiter = new FailedSignInLimiter(options, new ManualClock());
        Assert.True(limiter.TryBeginCheck("10.0.0.1"));
        Assert.True(limiter.TryBeginCheck("10.0.0.1"));
        Assert.True(limiter.TryBeginCheck("10.0.0.1"));
        Assert.False(limiter.TryBeginCheck("10.0.0.1"));   // three running
        Assert.True(limiter.TryBeginCheck("10.0.0.2"));    // another address
        limiter.EndCheck("10.0.0.1");                      // a success: nothing counted
        Assert.True(limiter.TryBeginCheck("10.0.0.1"));
        limiter.RecordFailure("10.0.0.1");
        limiter.EndCheck("10.0.0.1");
        limiter.EndCheck("10.0.0.1");
        limiter.EndCheck("10.0.0.1");
        Assert.True(limiter.TryBeginCheck("10.0.0.1"));    // one failure, one running
        Assert.True(limiter.TryBeginCheck("10.0.0.1"));
        Assert.False(limiter.TryBeginCheck("10.0.0.1"));
    }

    [Fact]
    public void Key_derivations_from_all_addresses_together_are_bounded()
    {
        // Guesses from many addresses, each under its own limit, took every core with key derivations.
        var options = Microsoft.Extensions.Options.Options.Create(new DashboardOptions { MaxFailedSignIns = 3, MaxConcurrentPasswordChecks = 2 });
        var limiter = new FailedSignInLimiter(options, new ManualClock());
        Assert.True(limiter.TryBeginKeyDerivation());
        Assert.True(limiter.TryBeginKeyDerivation());
        Assert.False(limiter.TryBeginKeyDerivation());
        Assert.True(limiter.TryBeginCheck("10.0.0.3"));   // the address's own limit is apart
        limiter.EndKeyDerivation();
        Assert.True(limiter.TryBeginKeyDerivation());
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), new DashboardOptions().PasswordCheckLimit);
    }

    [Fact]
    public void Under_failures_from_ever_new_addresses_the_stale_ones_are_still_dropped()
    {
        // A prune at most once a second: one that every failure postponed never ran under a sustained many-address attack.
        var clock = new ManualClock();
        var options = Microsoft.Extensions.Options.Options.Create(new DashboardOptions { MaxFailedSignIns = 3, FailedSignInWindow = TimeSpan.FromMinutes(5) });
        var limiter = new FailedSignInLimiter(options, clock);
        for (int i = 0; i < 10_001; i++) limiter.RecordFailure($"10.0.{i / 256}.{i % 256}");
        clock.Now += TimeSpan.FromMinutes(6);   // all stale
        for (int i = 0; i < 3_000; i++)
        {
            clock.Now += TimeSpan.FromMilliseconds(100);   // ten failures a second, each from a new address
            limiter.RecordFailure($"10.1.{i / 256}.{i % 256}");
        }
        Assert.Equal(0, limiter.Failures("10.0.0.1"));
        Assert.True(limiter.Count < 10_001 + 3_000, $"{limiter.Count} addresses remembered");
    }
}
