namespace NfcPipeline.Inference.Engine;

/// <summary>
/// How a CPU session spreads over the cores: session runs executing at once, and ORT intra-op threads in each.
/// Unset (0) options choose two runs of half the cores each (one run where there is one core): a second stream fills
/// the gaps one run leaves (operators that run on one thread, the waits between operators) and ORT's kernels scale
/// better over fewer threads. On this project's 2-core hosts the int8 reference model ran 5–25 % faster as two runs
/// of one thread than as one run of two, the float one about 5 % (README.md, `Inference:MaxConcurrentRuns`).
/// </summary>
public readonly record struct CpuRunPlan(int ConcurrentRuns, int IntraOpThreads)
{
    public static CpuRunPlan For(int maxConcurrentRuns, int intraOpThreads, int cores)
    {
        if (maxConcurrentRuns < 0)
            throw new ArgumentOutOfRangeException(nameof(maxConcurrentRuns), maxConcurrentRuns, "Inference:MaxConcurrentRuns must be 0 (choose) or more.");
        if (intraOpThreads < 0)
            throw new ArgumentOutOfRangeException(nameof(intraOpThreads), intraOpThreads, "Inference:IntraOpThreads must be 0 (choose) or more.");
        cores = Math.Max(1, cores);
        int runs = maxConcurrentRuns > 0 ? maxConcurrentRuns : Math.Min(2, cores);
        int threads = intraOpThreads > 0 ? intraOpThreads : Math.Max(1, cores / runs);
        return new CpuRunPlan(runs, threads);
    }
}
