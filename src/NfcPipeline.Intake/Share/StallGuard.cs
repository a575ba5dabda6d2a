namespace NfcPipeline.Intake.Share;

/// <summary>
/// Runs a read of the share on a thread of its own, given up when its progress (<see cref="ShareScanProgress"/>) stands
/// still for a stall timeout. A call into a hung network mount cannot be interrupted: the read is left to return when the
/// mount does (its token cancelled), and the caller goes on. A read that is slow but moves on runs to its end.
/// </summary>
public static class StallGuard
{
    /// <summary>
    /// The read's result; <see cref="TimeoutException"/> when it stood still for <paramref name="stallTimeout"/>, after
    /// handing the read left behind to <paramref name="abandoned"/>.
    /// </summary>
    public static async Task<T> RunAsync<T>(Func<ShareScanProgress, CancellationToken, T> read, TimeSpan stallTimeout, TimeProvider clock,
        CancellationToken ct, Action<Task<T>>? abandoned = null)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var progress = new ShareScanProgress();
        var reading = Task.Factory.StartNew(() => read(progress, stop.Token), stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        // Disposed once the read returns, however late (an abandoned one still reads its token); its fault observed.
        _ = reading.ContinueWith(t => { _ = t.Exception; stop.Dispose(); }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            for (var seen = 0L; ; seen = progress.Steps)
            {
                try { return await reading.WaitAsync(stallTimeout, clock, ct); }
                catch (TimeoutException) when (progress.Steps != seen) { }
            }
        }
        catch (Exception ex) when (ex is TimeoutException || ex is OperationCanceledException && ct.IsCancellationRequested)
        {
            // The read may have returned just now, and its continuation disposed the source: nothing left to stop.
            try { stop.Cancel(); } catch (ObjectDisposedException) { }
            abandoned?.Invoke(reading);
            throw;
        }
    }
}
