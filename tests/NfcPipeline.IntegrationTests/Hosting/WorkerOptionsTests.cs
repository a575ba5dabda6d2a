using NfcPipeline.Worker;

namespace NfcPipeline.IntegrationTests.Hosting;

public class WorkerOptionsTests
{
    [Fact]
    public void A_prefetch_below_the_concurrency_limit_is_refused_because_the_limit_would_never_be_reached()
    {
        Assert.Empty(new WorkerOptions().Validate());
        Assert.Empty(new WorkerOptions { PrefetchCount = 4, ConcurrentMessageLimit = 4 }.Validate());
        var problem = Assert.Single(new WorkerOptions { PrefetchCount = 2, ConcurrentMessageLimit = 4 }.Validate());
        Assert.StartsWith("Worker:PrefetchCount (2) must be at least Worker:ConcurrentMessageLimit (4)", problem);
        // A prefetch of 0 is named once, for itself.
        Assert.Equal(["Worker:PrefetchCount must be at least 1 (0 would mean no limit), got 0."],
            new WorkerOptions { PrefetchCount = 0 }.Validate());
    }
}
