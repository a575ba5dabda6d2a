using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NfcPipeline.Dashboard.Security;
using static NfcPipeline.Dashboard.Tests.AuthTests;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Sign-ins against slow (PBKDF2) password hashes: how many run at once, and what their timing tells.</summary>
public class SlowHashSignInTests
{
    /// <summary>The test users, olga (operator) with a PBKDF2 hash of <paramref name="iterations"/> instead of her SHA-256 one.</summary>
    private static Dictionary<string, string?> OlgaWithSlowHash(int iterations)
    {
        var settings = Users();
        settings.Remove("Dashboard:Users:0:PasswordSha256");
        settings["Dashboard:Users:0:PasswordHash"] = PasswordHashes.Create("op-pass", iterations);
        return settings;
    }

    [Fact]
    public async Task Parallel_guesses_against_a_slow_password_hash_get_no_more_checks_than_the_limit()
    {
        await using var data = await TestData.CreateAsync();
        var settings = OlgaWithSlowHash(PasswordHashes.MinIterations);
        settings["Dashboard:MaxFailedSignIns"] = "3";
        settings["Dashboard:MaxConcurrentPasswordChecks"] = "12";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);

        var guesses = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            using var client = host.Client();
            client.DefaultRequestHeaders.Authorization = Basic("olga", $"guess-{i}");
            return (await client.GetAsync("/jobs")).StatusCode;
        }));

        // Each check that ran counted a failure (401); the rest were refused unchecked, as locked out (429; before, all 12 were checked).
        Assert.Equal((3, 9), (guesses.Count(s => s == HttpStatusCode.Unauthorized), guesses.Count(s => s == HttpStatusCode.TooManyRequests)));
        Assert.Equal(3, host.Services.GetRequiredService<FailedSignInLimiter>().Failures("127.0.0.1"));
    }

    [Fact]
    public async Task A_fast_hash_users_password_is_not_checked_while_the_address_has_no_check_left()
    {
        // With olga's slow hash beside rita's SHA-256, rita's guesses were checked before a check slot was asked for:
        // refused a slot (the address's slots held by slow refusals) they were answered 429 uncounted, and the right
        // one 200, so guesses at rita ran at full speed past the limit.
        await using var data = await TestData.CreateAsync();
        var settings = OlgaWithSlowHash(PasswordHashes.MinIterations);
        settings["Dashboard:MaxFailedSignIns"] = "2";
        settings["Dashboard:MaxConcurrentPasswordChecks"] = "4";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        var limiter = host.Services.GetRequiredService<FailedSignInLimiter>();
        using var client = host.Client();
        client.DefaultRequestHeaders.Authorization = Basic("rita", "ro-pass");
        // The address's two checks held, as two slow refusals in flight hold them.
        Assert.True(limiter.TryBeginCheck("127.0.0.1") && limiter.TryBeginCheck("127.0.0.1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/jobs")).StatusCode);   // was 200
        limiter.EndCheck("127.0.0.1");
        limiter.EndCheck("127.0.0.1");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/jobs")).StatusCode);
        Assert.Equal(0, limiter.ChecksRunning("127.0.0.1"));
    }

    [Fact]
    public async Task A_fast_hash_user_signs_in_while_every_key_derivation_slot_is_taken()
    {
        // Every request of a SHA-256 user took a key derivation slot (half the cores: one here), so one slow sign-in
        // elsewhere, or guesses from other addresses, refused rita's every page. Her wrong guess is counted all the same.
        await using var data = await TestData.CreateAsync();
        var settings = OlgaWithSlowHash(PasswordHashes.MinIterations);
        settings["Dashboard:MaxConcurrentPasswordChecks"] = "1";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        var limiter = host.Services.GetRequiredService<FailedSignInLimiter>();
        using var client = host.Client();
        Assert.True(limiter.TryBeginKeyDerivation());   // another address's slow check under way
        client.DefaultRequestHeaders.Authorization = Basic("rita", "ro-pass");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/jobs")).StatusCode);
        client.DefaultRequestHeaders.Authorization = Basic("rita", "guess");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/jobs")).StatusCode);
        Assert.Equal(1, limiter.Failures("127.0.0.1"));
        client.DefaultRequestHeaders.Authorization = Basic("olga", "guess");   // unchecked: not counted
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/jobs")).StatusCode);
        Assert.Equal(1, limiter.Failures("127.0.0.1"));
        limiter.EndKeyDerivation();
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/jobs")).StatusCode);
        Assert.Equal(2, limiter.Failures("127.0.0.1"));
    }

    [Fact]
    public async Task Beside_a_slow_hash_a_fast_hash_users_wrong_password_is_refused_as_slowly()
    {
        // rita's SHA-256 refusal took a millisecond where olga's and an unknown name's took a PBKDF2 check: timing told
        // which names exist. The gap is a whole key derivation (tens of ms against about one), far above the noise.
        var (rita, nobody, times) = await RefusalTimesAsync(ritaHash: null);
        Assert.True(rita > 1.0 / 3 && nobody > 1.0 / 3, $"refusal time against olga's: rita {rita:F2}, unknown {nobody:F2} ({times})");
    }

    [Fact]
    public async Task A_slow_hash_of_fewer_iterations_is_refused_as_slowly_as_the_slowest()
    {
        // rita's hash at a quarter of olga's iterations: her refusals took a quarter of the time of olga's and of an
        // unknown name's (checked at the slowest count). They are topped up to the slowest count.
        var (rita, nobody, times) = await RefusalTimesAsync(ritaHash: PasswordHashes.Create("ro-pass", 100_000));
        Assert.True(rita > 0.5 && nobody > 0.5, $"refusal time against olga's: rita {rita:F2}, unknown {nobody:F2} ({times})");
    }

    /// <summary>
    /// The refusal times of rita (SHA-256, or <paramref name="ritaHash"/>) and of an unknown name, each as a share of
    /// olga's (400,000 iterations) taken beside it: the median over rounds. Also the times themselves, for the message.
    /// </summary>
    private static async Task<(double Rita, double Unknown, string Times)> RefusalTimesAsync(string? ritaHash)
    {
        await using var data = await TestData.CreateAsync();
        var settings = OlgaWithSlowHash(400_000);
        if (ritaHash is not null)
        {
            settings.Remove("Dashboard:Users:1:PasswordSha256");
            settings["Dashboard:Users:1:PasswordHash"] = ritaHash;
        }
        settings["Dashboard:MaxFailedSignIns"] = "50";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        using var client = host.Client();
        async Task<double> TimeMs(string user, string password, HttpStatusCode expected)
        {
            client.DefaultRequestHeaders.Authorization = Basic(user, password);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var status = (await client.GetAsync("/jobs")).StatusCode;
            Assert.Equal(expected, status);
            return watch.Elapsed.TotalMilliseconds;
        }

        await TimeMs("rita", "ro-pass", HttpStatusCode.OK);   // her right password is still accepted (its status asserted)
        // Taken in turns, and compared round by round: a busy moment of the machine slows the three of one round alike.
        // (Medians over all rounds drifted apart by 2x under a parallel test run, olga 503 against rita 219 ms, and so
        // did the fastest of each: olga 228, unknown 101 ms, one name's quiet moment against another's busy ones.)
        var times = new[] { "olga", "rita", "nobody" }.ToDictionary(user => user, _ => new List<double>());
        for (int i = 0; i < 9; i++)
            foreach (var (user, list) in times) list.Add(await TimeMs(user, "guess", HttpStatusCode.Unauthorized));
        double ShareOfOlga(string user) => times[user].Zip(times["olga"], (t, o) => t / o).Order().ElementAt(times[user].Count / 2);
        string text = string.Join("; ", times.Select(t => $"{t.Key} {string.Join(" ", t.Value.Select(v => v.ToString("F0")))} ms"));
        return (ShareOfOlga("rita"), ShareOfOlga("nobody"), text);
    }
}
