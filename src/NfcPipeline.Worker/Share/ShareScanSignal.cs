namespace NfcPipeline.Worker.Share;

/// <summary>Wakes the share watcher between its checks, e.g. when a ScanShareNow message arrives.</summary>
public sealed class ShareScanSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Request() => Volatile.Read(ref _next).TrySetResult();

    /// <summary>Returns after <paramref name="timeout"/> or as soon as <see cref="Request"/> is called.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider clock, CancellationToken ct)
    {
        var pending = Volatile.Read(ref _next);
        using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var delay = Task.Delay(timeout, clock, delayCancel.Token);
        await Task.WhenAny(pending.Task, delay);
        delayCancel.Cancel();
        if (pending.Task.IsCompleted)
            Interlocked.CompareExchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), pending);
        ct.ThrowIfCancellationRequested();
    }
}
