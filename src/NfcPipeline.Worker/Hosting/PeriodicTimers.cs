namespace NfcPipeline.Worker.Hosting;

public static class PeriodicTimers
{
    /// <summary>The next tick; false once the worker stops (cancellation ends the loop, it is no error).</summary>
    public static async Task<bool> NextTickOrStopAsync(this PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }
}
