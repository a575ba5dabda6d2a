namespace NfcPipeline.Worker.Analysis;

/// <summary>
/// Chunks run side by side, and their images share batches; a chunk whose earlier start was abandoned (its worker
/// stopped mid-chunk: a crash, or killed for memory) runs alone. Otherwise one file that crashes the process counts an
/// abandoned start against every chunk in flight with it, and after Worker:MaxAbandonedStarts crashes the healthy
/// chunks are given up beside the bad one. While a lone chunk waits for the others to finish, no chunk starts.
/// </summary>
public sealed class ChunkGate
{
    private readonly object _lock = new();
    private readonly SemaphoreSlim _loneTurn = new(1, 1);
    private int _running;
    private bool _loneWaiting;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Chunks running now (for tests and logs).</summary>
    public int Running { get { lock (_lock) return _running; } }

    /// <summary>Waits for a turn: beside the other chunks, or with <paramref name="alone"/> once none runs.</summary>
    public async Task<IDisposable> EnterAsync(bool alone, CancellationToken ct)
    {
        if (!alone)
        {
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    if (!_loneWaiting) { _running++; return new Slot(this, alone: false); }
                    changed = _changed.Task;
                }
                await changed.WaitAsync(ct);
            }
        }
        await _loneTurn.WaitAsync(ct);
        lock (_lock) _loneWaiting = true;
        try
        {
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    if (_running == 0) { _running = 1; return new Slot(this, alone: true); }
                    changed = _changed.Task;
                }
                await changed.WaitAsync(ct);
            }
        }
        catch
        {
            lock (_lock) { _loneWaiting = false; Changed(); }
            _loneTurn.Release();
            throw;
        }
    }

    private void Leave(bool alone)
    {
        lock (_lock)
        {
            _running--;
            if (alone) _loneWaiting = false;
            Changed();
        }
        if (alone) _loneTurn.Release();
    }

    private void Changed()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    private sealed class Slot(ChunkGate gate, bool alone) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) gate.Leave(alone);
        }
    }
}
