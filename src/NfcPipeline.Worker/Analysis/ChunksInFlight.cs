using System.Collections.Concurrent;

namespace NfcPipeline.Worker.Analysis;

/// <summary>
/// The chunk jobs this worker's consumers are handling now, from delivery to return. A job left 'processing' under
/// this worker that none of them holds lost its message (its fault unrecorded through a long database outage): the
/// outbox pass sends it back (<see cref="Storage.Pipeline.JobStore.RecoverOrphanedAsync"/>).
/// </summary>
public sealed class ChunksInFlight
{
    private readonly ConcurrentDictionary<long, int> _jobs = new();

    /// <summary>Counts the job in until the returned handle is disposed (two deliveries of one job count twice).</summary>
    public IDisposable Enter(long jobId)
    {
        _jobs.AddOrUpdate(jobId, 1, (_, n) => n + 1);
        return new Exit(this, jobId);
    }

    public long[] Snapshot() => [.. _jobs.Keys];

    private sealed class Exit(ChunksInFlight owner, long jobId) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 1) return;
            // Removed only at zero: a second delivery of the job still holds it.
            while (true)
            {
                var n = owner._jobs[jobId];
                if (n == 1 ? owner._jobs.TryRemove(new KeyValuePair<long, int>(jobId, 1)) : owner._jobs.TryUpdate(jobId, n - 1, n)) return;
            }
        }
    }
}
