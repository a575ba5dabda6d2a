using NfcPipeline.Inference.Engine;

namespace NfcPipeline.Inference.Tests.Engine;

public class CpuRunPlanTests
{
    [Theory]
    [InlineData(0, 0, 2, 2, 1)]    // this project's hosts: two runs of one thread
    [InlineData(0, 0, 1, 1, 1)]    // one core: one run
    [InlineData(0, 0, 3, 2, 2)]    // the session's one pool: 1 worker beside the 2 runs' own threads
    [InlineData(0, 0, 16, 2, 15)]  // 14 pool workers and the 2 callers: every core, not 7 + 2
    [InlineData(1, 0, 2, 1, 2)]    // one run configured: it takes every core
    [InlineData(4, 0, 16, 4, 13)]
    [InlineData(8, 0, 4, 8, 1)]    // more runs than cores: no pool workers at all
    [InlineData(0, 1, 16, 2, 1)]   // threads configured: kept as given
    [InlineData(0, 4, 2, 2, 4)]    // even when they oversubscribe the cores: the configuration decides
    [InlineData(0, 0, 0, 1, 1)]    // an unknown core count counts as one
    public void Unset_options_fill_the_cores_with_the_runs_and_the_sessions_shared_pool(int runs, int threads, int cores, int expectedRuns, int expectedThreads)
    {
        var plan = CpuRunPlan.For(runs, threads, cores);

        Assert.Equal(expectedRuns, plan.ConcurrentRuns);
        Assert.Equal(expectedThreads, plan.IntraOpThreads);
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, -1)]
    [InlineData(257, 0)]
    [InlineData(0, 257)]
    public void Negative_or_oversized_options_are_refused(int runs, int threads)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuRunPlan.For(runs, threads, 2));
    }
}
