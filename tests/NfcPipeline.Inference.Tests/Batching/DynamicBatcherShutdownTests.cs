using NfcPipeline.Inference.Batching;

namespace NfcPipeline.Inference.Tests.Batching;

public class DynamicBatcherShutdownTests
{
    private static readonly ShapeBucket Bucket = new(512, 512);

    private static TestExecutor<int, int> TimesTen(bool gated = false) =>
        new(batch => [.. batch.Requests.Select(r => r * 10)]) { Gated = gated };

    [Fact]
    public async Task Dispose_drains_queued_and_in_flight_work_and_refuses_new_submits()
    {
        // A minute of queue delay: the drain must dispatch the partial batch itself rather than wait it out.
        var executor = TimesTen(gated: true);
        var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000, maxConcurrentBatches: 1), executor.ExecuteAsync, _ => Bucket);

        var submits = Enumerable.Range(1, 5).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await executor.WaitForStartedAsync(1);

        var disposing = batcher.DisposeAsync().AsTask();
        // A second disposal returned at once, and its caller released the session under a running batch.
        var again = batcher.DisposeAsync().AsTask();
        await Task.Delay(20);
        Assert.False(disposing.IsCompleted);
        Assert.False(again.IsCompleted);
        Assert.False(batcher.IsAccepting);
        await Assert.ThrowsAnyAsync<InvalidOperationException>(() => batcher.SubmitAsync(6).AsTask());

        executor.Open();
        await Wait.ForAsync(disposing);
        await Wait.ForAsync(again);

        Assert.All(submits, s => Assert.True(s.IsCompletedSuccessfully));
        Assert.Equal([10, 20, 30, 40, 50], submits.Select(s => s.Result));
        Assert.Equal([2, 2, 1], executor.BatchSizes);
        var refused = await Assert.ThrowsAsync<ObjectDisposedException>(() => batcher.SubmitAsync(7).AsTask());
        Assert.Contains("'test' has been disposed", refused.Message);
    }

    [Fact]
    public async Task Drain_refuses_new_submits_with_a_clear_message_and_completes_when_work_is_done()
    {
        var executor = TimesTen();
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 4, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Bucket);

        var submit = batcher.SubmitAsync(3).AsTask();
        await Wait.ForAsync(batcher.DrainAsync());

        Assert.Equal(30, await submit);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.SubmitAsync(4).AsTask());
        Assert.Contains("'test' is draining", refused.Message);
    }

    [Fact]
    public async Task Drain_that_runs_out_of_time_ends_outstanding_requests_and_cancels_executors()
    {
        var executor = TimesTen(gated: true);
        var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 1, maxQueueDelayMs: 0, maxConcurrentBatches: 1), executor.ExecuteAsync, _ => Bucket);

        var running = batcher.SubmitAsync(1).AsTask();
        await executor.WaitForStartedAsync(1);
        var queued = batcher.SubmitAsync(2).AsTask();

        using var limit = new CancellationTokenSource(TimeSpan.FromMilliseconds(30));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(batcher.DrainAsync(limit.Token)));

        var ranOut = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(running));
        Assert.Contains("shut down", ranOut.Message);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(queued));
        Assert.True(executor.Tokens.Single().IsCancellationRequested);
        Assert.Equal(0, batcher.QueueDepth);

        // Dispose still waits for the executor that ignored its token.
        var disposing = batcher.DisposeAsync().AsTask();
        await Task.Delay(20);
        Assert.False(disposing.IsCompleted);
        executor.Open();
        await Wait.ForAsync(disposing);
        Assert.Equal([1], executor.Batches.Single().Requests);
        Assert.Equal(2, batcher.Snapshot().RequestsCancelled);
    }

    [Fact]
    public async Task Submit_blocked_on_a_full_queue_is_refused_when_drain_begins()
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 1, maxQueueDelayMs: 0, queueCapacity: 1, maxConcurrentBatches: 1),
            executor.ExecuteAsync, _ => Bucket);

        var running = batcher.SubmitAsync(1).AsTask();
        await executor.WaitForStartedAsync(1);
        var queued = batcher.SubmitAsync(2).AsTask();
        var blocked = batcher.SubmitAsync(3).AsTask();
        await Task.Delay(20);
        Assert.False(blocked.IsCompleted);

        var draining = batcher.DrainAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => Wait.ForAsync(blocked));

        executor.Open();
        await Wait.ForAsync(draining);
        int[] results = await Task.WhenAll(running, queued);
        Assert.Equal([10, 20], results);
        Assert.Equal([1, 2], executor.Batches.Select(b => b.Requests[0]));
    }
}
