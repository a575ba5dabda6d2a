using NfcPipeline.Worker.Completion;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>The stranded sweep's back-off: a study that keeps failing leaves room for the others.</summary>
public class SweepBackoffTests
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void A_failing_study_waits_twice_as_long_each_time_up_to_64_intervals_and_a_success_forgets_it()
    {
        var clock = new Clock();
        var interval = TimeSpan.FromMinutes(5);
        var backoff = new SweepBackoff(interval, clock);

        Assert.Equal((1, interval), backoff.Failed(7));
        Assert.Equal([7L], backoff.Waiting());
        clock.Now += interval;
        Assert.Empty(backoff.Waiting());   // its turn again
        Assert.Equal((2, interval * 2), backoff.Failed(7));
        for (int i = 0; i < 10; i++) backoff.Failed(7);
        Assert.Equal((13, interval * 64), backoff.Failed(7));

        backoff.Failed(8);
        backoff.Succeeded(7);
        Assert.Equal([8L], backoff.Waiting());
        Assert.Equal((1, interval), backoff.Failed(7));   // counted from one again

        // Kept while the sweep finds it stranded or left it out of its query (its wait ended during the query, say);
        // forgotten once it is neither.
        clock.Now += interval;
        backoff.Forget([7], []);
        Assert.Equal((2, interval * 2), backoff.Failed(7));
        backoff.Forget([], [7]);
        Assert.Equal((3, interval * 4), backoff.Failed(7));
        backoff.Forget([], []);
        Assert.Equal((1, interval), backoff.Failed(7));
    }
}
