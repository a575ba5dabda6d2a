namespace NfcPipeline.Inference.Engine;

/// <summary>
/// How a CPU session spreads over the cores: session runs executing at once, and the size of the session's ORT
/// intra-op thread pool. Unset (0) options choose two runs (one where there is one core): a second stream fills the
/// gaps one run leaves (operators that run on one thread, the waits between operators). On this project's 2-core
/// hosts the int8 reference model ran 5–25 % faster as two runs of one thread than as one run of two, the float one
/// about 5 % (README.md, `Inference:MaxConcurrentRuns`).
/// The pool is the session's, shared by its concurrent runs, and each run's calling thread works beside it: a pool of
/// N counts N − 1 workers plus its caller. So the runs and the pool's workers together match the cores: cores − runs + 1
/// (1 on 2 cores, as before; 15 on 16, where half the cores each had left 7 of them idle).
/// </summary>
public readonly record struct CpuRunPlan(int ConcurrentRuns, int IntraOpThreads)
{
    public static CpuRunPlan For(int maxConcurrentRuns, int intraOpThreads, int cores)
    {
        const int most = InferenceOptions.MaxRunsOrThreads;
        if (maxConcurrentRuns is < 0 or > most)
            throw new ArgumentOutOfRangeException(nameof(maxConcurrentRuns), maxConcurrentRuns, $"Inference:MaxConcurrentRuns must be 0 (choose) to {most}.");
        if (intraOpThreads is < 0 or > most)
            throw new ArgumentOutOfRangeException(nameof(intraOpThreads), intraOpThreads, $"Inference:IntraOpThreads must be 0 (choose) to {most}.");
        cores = Math.Max(1, cores);
        int runs = maxConcurrentRuns > 0 ? maxConcurrentRuns : Math.Min(2, cores);
        int threads = intraOpThreads > 0 ? intraOpThreads : Math.Max(1, cores - runs + 1);
        return new CpuRunPlan(runs, threads);
    }
}
