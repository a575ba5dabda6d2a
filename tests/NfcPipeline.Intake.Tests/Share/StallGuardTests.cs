using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

/// <summary>A read of the share given up when it stands still, and only then.</summary>
public sealed class StallGuardTests
{
    private static readonly TimeSpan Stall = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task A_read_that_stands_still_is_given_up_and_handed_over_as_left_behind()
    {
        using var hung = new ManualResetEventSlim();
        Task<int>? leftBehind = null;
        CancellationToken readToken = default;
        await Assert.ThrowsAsync<TimeoutException>(() => StallGuard.RunAsync((_, token) =>
        {
            readToken = token;
            hung.Wait();   // a call into a hung mount: no token reaches it
            return 1;
        }, Stall, TimeProvider.System, CancellationToken.None, abandoned: t => leftBehind = t));

        Assert.NotNull(leftBehind);
        Assert.False(leftBehind.IsCompleted);
        Assert.True(readToken.IsCancellationRequested);   // told to stop, should it look
        hung.Set();   // the mount is back: the read returns, and nothing waits on it
        Assert.Equal(1, await leftBehind.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_slow_read_that_moves_on_runs_to_its_end()
    {
        // 30 steps of 100 ms: 3 s in all, past a stall timeout of 2 s, which only a pause of the machine of nearly 2 s
        // between two steps could reach (the 300 ms of the other tests was within reach of a loaded 2-core runner).
        var result = await StallGuard.RunAsync((progress, _) =>
        {
            for (int i = 0; i < 30; i++)
            {
                Thread.Sleep(100);
                progress.Advance();
            }
            return "read";
        }, TimeSpan.FromSeconds(2), TimeProvider.System, CancellationToken.None);

        Assert.Equal("read", result);
    }

    [Fact]
    public async Task A_reads_own_failure_and_the_callers_cancellation_come_through()
    {
        var failure = await Assert.ThrowsAsync<IOException>(() => StallGuard.RunAsync<int>((_, _) => throw new IOException("I/O error"), Stall,
            TimeProvider.System, CancellationToken.None));
        Assert.Equal("I/O error", failure.Message);

        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        using var hung = new ManualResetEventSlim();
        Task<int>? leftBehind = null;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => StallGuard.RunAsync((_, _) => { hung.Wait(); return 1; },
            TimeSpan.FromMinutes(5), TimeProvider.System, stop.Token, abandoned: t => leftBehind = t));
        Assert.NotNull(leftBehind);
        hung.Set();
    }
}
