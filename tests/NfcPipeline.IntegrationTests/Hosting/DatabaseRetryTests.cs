using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NfcPipeline.Worker;
using NfcPipeline.Worker.Hosting;
using Npgsql;

namespace NfcPipeline.IntegrationTests.Hosting;

/// <summary>What the worker's database calls retry, and for how long.</summary>
public class DatabaseRetryTests
{
    private static DatabaseRetry Retry(TimeSpan budget) =>
        new(new WorkerOptions { DatabaseRetryBudget = budget }, NullLogger<DatabaseRetry>.Instance);

    private static async Task<int> CallsUntilItGivesUp(DatabaseRetry retry, Exception failure, TimeSpan eachCallTakes)
    {
        int calls = 0;
        await Assert.ThrowsAsync(failure.GetType(), () => retry.RunAsync(async _ =>
        {
            calls++;
            await Task.Delay(eachCallTakes);
            throw failure;
        }, default).AsTask());
        return calls;
    }

    [Fact]
    public async Task The_budget_is_time_since_the_first_failure_not_the_sum_of_the_delays()
    {
        // An unreachable host spends its connect timeout on each attempt: with attempts of 1.5 s and a budget of 1 s, the
        // retry after the first failure fails past it (the delays alone allowed two retries: three calls).
        var watch = Stopwatch.StartNew();
        Assert.Equal(2, await CallsUntilItGivesUp(Retry(TimeSpan.FromSeconds(1)), new SocketException(), TimeSpan.FromSeconds(1.5)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"{watch.Elapsed}");   // a guard against retrying on: the count above is the point

        Assert.Equal(1, await CallsUntilItGivesUp(Retry(TimeSpan.Zero), new SocketException(), TimeSpan.Zero));   // 0: no retry
        Assert.True(await CallsUntilItGivesUp(Retry(TimeSpan.FromSeconds(3)), new SocketException(), TimeSpan.Zero) >= 2);
    }

    [Theory]
    [InlineData("23505", false)]   // a unique violation: the same again would fail the same way
    [InlineData("57014", false)]   // a cancelled statement
    [InlineData("40P01", true)]    // a deadlock: the next try may pass
    [InlineData("40001", true)]    // a serialization failure
    [InlineData("08006", true)]    // the connection failed
    [InlineData("57P01", true)]    // the server shutting down
    public void Only_errors_that_another_try_may_pass_are_transient(string sqlState, bool transient) =>
        Assert.Equal(transient, DatabaseRetry.IsTransient(new PostgresException("test", "ERROR", "ERROR", sqlState)));
}
