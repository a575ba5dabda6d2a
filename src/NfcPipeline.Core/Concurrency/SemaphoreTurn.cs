namespace NfcPipeline.Core.Concurrency;

/// <summary>One count taken from a semaphore, given back when disposed; a second Dispose gives back nothing.</summary>
public sealed class SemaphoreTurn(SemaphoreSlim semaphore) : IDisposable
{
    private int _returned;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _returned, 1) == 0) semaphore.Release();
    }
}
