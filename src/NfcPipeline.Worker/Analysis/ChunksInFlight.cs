using System.Collections.Concurrent;

namespace NfcPipeline.Worker.Analysis;

/// <summary>
/// The chunk jobs this worker's consumers are handling now, from delivery to return, and when each was last let go. A
/// job left 'processing' under this worker that none of them has held for a while lost its message (its fault
/// unrecorded through a long database outage): the outbox pass sends it back
/// (<see cref="Storage.Pipeline.JobStore.RecoverOrphanedAsync"/>). One between two of its message's retries is let go
/// only for the retry's interval, so it is not taken for lost.
/// </summary>
public sealed class ChunksInFlight(TimeProvider clock)
{
    private readonly ConcurrentDictionary<long, int> _held = new();
    private readonly ConcurrentDictionary<long, DateTimeOffset> _released = new();

    /// <summary>Counts the job in until the returned handle is disposed (two deliveries of one job count twice).</summary>
    public IDisposable Enter(long jobId)
    {
        _held.AddOrUpdate(jobId, 1, (_, n) => n + 1);
        return new Exit(this, jobId);
    }

    /// <summary>The jobs held now or let go within <paramref name="recently"/>; older releases are forgotten.</summary>
    public long[] HeldOrReleasedWithin(TimeSpan recently)
    {
        var since = clock.GetUtcNow() - recently;
        foreach (var (jobId, at) in _released)
            if (at < since) _released.TryRemove(new KeyValuePair<long, DateTimeOffset>(jobId, at));
        return [.. _held.Keys.Union(_released.Keys)];
    }

    private void Release(long jobId)
    {
        _released[jobId] = clock.GetUtcNow();
        // Removed only at zero: a second delivery of the job still holds it.
        while (true)
        {
            var n = _held[jobId];
            if (n == 1 ? _held.TryRemove(new KeyValuePair<long, int>(jobId, 1)) : _held.TryUpdate(jobId, n - 1, n)) return;
        }
    }

    private sealed class Exit(ChunksInFlight owner, long jobId) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) owner.Release(jobId);
        }
    }
}
