using Npgsql;

namespace NfcPipeline.IntegrationTests.Infrastructure;

/// <summary>
/// Waits until some session of the database waits for an advisory lock: the call under test has reached the lock a
/// test holds. A fixed delay instead passed without testing the race whenever the call had not got there yet.
/// </summary>
public static class LockWaiters
{
    /// <param name="waiters">How many sessions must wait: a test with two calls at the lock waits for both.</param>
    public static async Task WaitForAdvisoryWaiterAsync(NpgsqlDataSource db, Task pending, string what, TimeSpan? timeout = null, int waiters = 1)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        await using var connection = await db.OpenConnectionAsync();
        await using var count = new NpgsqlCommand(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())",
            connection);
        while ((long)(await count.ExecuteScalarAsync())! < waiters)
        {
            if (pending.IsCompleted)
            {
                await pending;   // its own failure, if it failed
                Assert.Fail($"{what} did not wait for the lock held");
            }
            Assert.True(DateTime.UtcNow < deadline, $"{what} never waited for the lock held");
            await Task.Delay(50);
        }
        Assert.False(pending.IsCompleted, $"{what} did not wait for the lock held");
    }
}
