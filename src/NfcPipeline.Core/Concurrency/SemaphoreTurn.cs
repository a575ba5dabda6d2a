namespace NfcPipeline.Core.Concurrency;

/// <summary>One count taken from a semaphore, given back when disposed; a second Dispose gives back nothing.</summary>
public sealed class SemaphoreTurn(SemaphoreSlim semaphore) : IDisposable
{
    private int _returned;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _returned, 1) == 0) semaphore.Release();
    }

    /// <summary>
    /// Gives a count back to <paramref name="semaphore"/> now, or, while <paramref name="holder"/> still runs (a look at a
    /// hung mount given up on), once it returns: such work keeps its slot, so it takes no more threads than slots.
    /// </summary>
    public static void ReleaseWhenDone(SemaphoreSlim semaphore, Task? holder)
    {
        if (holder is { IsCompleted: false }) _ = holder.ContinueWith(t => { _ = t.Exception; semaphore.Release(); }, TaskScheduler.Default);
        else semaphore.Release();
    }
}
