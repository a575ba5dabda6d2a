using System.Diagnostics;
using NfcPipeline.Inference.Batching;

namespace NfcPipeline.Inference.Tests.Batching;

public class DynamicBatcherBatchingTests
{
    private static readonly ShapeBucket Small = new(512, 512);
    private static readonly ShapeBucket Large = new(768, 1024);

    private static TestExecutor<int, int> TimesTen(bool gated = false) =>
        new(batch => [.. batch.Requests.Select(r => r * 10)]) { Gated = gated };

    [Fact]
    public async Task Concurrent_submits_under_load_form_full_batches()
    {
        // A long delay, so only full batches can leave the queue.
        var executor = TimesTen();
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 8, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Small);

        var submits = Enumerable.Range(0, 32).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        int[] results = await Wait.ForAsync(Task.WhenAll(submits));

        Assert.Equal([8, 8, 8, 8], executor.BatchSizes);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => i * 10), results);
    }

    [Fact]
    public async Task Lone_request_is_dispatched_after_max_queue_delay()
    {
        var dispatchedAfter = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        var executor = new TestExecutor<int, int>(batch =>
        {
            dispatchedAfter = clock.Elapsed;
            return [.. batch.Requests];
        });
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 8, maxQueueDelayMs: 50), executor.ExecuteAsync, _ => Small);

        clock.Restart();
        int result = await Wait.ForAsync(batcher.SubmitAsync(7).AsTask());

        Assert.Equal(7, result);
        Assert.Equal([1], executor.BatchSizes);
        Assert.InRange(dispatchedAfter, TimeSpan.FromMilliseconds(45), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Executor_given_as_an_interface_receives_the_batch_and_its_bucket()
    {
        var executor = new BucketEchoExecutor();
        await using var batcher = new DynamicBatcher<int, string>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000), executor, _ => Large);

        string[] results = await Wait.ForAsync(Task.WhenAll(batcher.SubmitAsync(1).AsTask(), batcher.SubmitAsync(2).AsTask()));

        Assert.Equal(["1 in 768x1024 (batch 1)", "2 in 768x1024 (batch 1)"], results);
    }

    [Fact]
    public async Task Preferred_batch_size_dispatches_without_waiting_out_the_delay()
    {
        var executor = TimesTen();
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 8, maxQueueDelayMs: 60_000, preferred: [4]), executor.ExecuteAsync, _ => Small);

        var clock = Stopwatch.StartNew();
        var submits = Enumerable.Range(1, 4).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        int[] results = await Wait.ForAsync(Task.WhenAll(submits));

        Assert.Equal([10, 20, 30, 40], results);
        Assert.Equal([4], executor.BatchSizes);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}, the delay is a minute");
    }

    [Fact]
    public async Task Batches_never_mix_buckets()
    {
        var executor = new TestExecutor<ImageRequest, int>(batch =>
        {
            Assert.All(batch.Requests, r => Assert.Equal(batch.Bucket, r.Bucket));
            return [.. batch.Requests.Select(r => r.Id)];
        });
        await using var batcher = new DynamicBatcher<ImageRequest, int>(
            TestOptions.Create(maxBatchSize: 4, maxQueueDelayMs: 20), executor.ExecuteAsync, r => r.Bucket);

        var submits = Enumerable.Range(0, 10)
            .Select(i => batcher.SubmitAsync(new ImageRequest(i, i % 2 == 0 ? Small : Large)).AsTask())
            .ToArray();
        int[] results = await Wait.ForAsync(Task.WhenAll(submits));

        Assert.Equal(Enumerable.Range(0, 10), results);
        Assert.All(executor.Batches, b => Assert.All(b.Requests, r => Assert.Equal(b.Bucket, r.Bucket)));
        Assert.Equal(5, executor.Batches.Where(b => b.Bucket == Small).Sum(b => b.Count));
        Assert.Equal(5, executor.Batches.Where(b => b.Bucket == Large).Sum(b => b.Count));
    }

    [Fact]
    public async Task Expired_bucket_goes_before_a_busier_bucket_with_younger_requests()
    {
        var executor = new TestExecutor<ImageRequest, int>(batch => [.. batch.Requests.Select(r => r.Id)]) { Gated = true };
        await using var batcher = new DynamicBatcher<ImageRequest, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 300, maxConcurrentBatches: 1), executor.ExecuteAsync, r => r.Bucket);

        // A full Small batch occupies the only slot; a lone Large request then waits past its delay. (A delay of 300 ms:
        // a thread stalled longer between the first two submissions would send the first alone.)
        var first = new[] { batcher.SubmitAsync(new ImageRequest(1, Small)), batcher.SubmitAsync(new ImageRequest(2, Small)) };
        await executor.WaitForStartedAsync(1);
        var lone = batcher.SubmitAsync(new ImageRequest(100, Large)).AsTask();
        await Task.Delay(600);
        var busy = Enumerable.Range(3, 6).Select(i => batcher.SubmitAsync(new ImageRequest(i, Small)).AsTask()).ToArray();

        executor.Open();
        await Wait.ForAsync(Task.WhenAll([.. first.Select(t => t.AsTask()), lone, .. busy]));

        Assert.Equal([Small, Large, Small, Small, Small], executor.Batches.Select(b => b.Bucket));
        Assert.Equal([100], executor.Batches[1].Requests.Select(r => r.Id));
    }

    [Fact]
    public async Task Results_are_routed_to_their_own_requesters()
    {
        // Batches of varied size and bucket finish out of order; each caller must still get its own result.
        var executor = new TestExecutor<ImageRequest, string>(batch =>
        {
            Thread.Sleep((int)(batch.BatchId % 3) * 5);
            return [.. batch.Requests.Select(r => $"image-{r.Id}@{r.Bucket}")];
        });
        await using var batcher = new DynamicBatcher<ImageRequest, string>(
            TestOptions.Create(maxBatchSize: 4, maxQueueDelayMs: 5, maxConcurrentBatches: 3), executor.ExecuteAsync, r => r.Bucket);

        var requests = Enumerable.Range(0, 50).Select(i => new ImageRequest(i, i % 3 == 0 ? Large : Small)).ToArray();
        string[] results = await Wait.ForAsync(Task.WhenAll(requests.Select(r => batcher.SubmitAsync(r).AsTask())));

        Assert.Equal(requests.Select(r => $"image-{r.Id}@{r.Bucket}"), results);
        Assert.Equal(50, executor.BatchSizes.Sum());
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(1, 3)]
    public async Task Concurrent_executor_calls_never_exceed_max_concurrent_batches(int maxBatchSize, int maxConcurrentBatches)
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: maxBatchSize, maxQueueDelayMs: 5, maxConcurrentBatches: maxConcurrentBatches),
            executor.ExecuteAsync, _ => Small);

        var submits = Enumerable.Range(0, 12).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await executor.WaitForStartedAsync(maxConcurrentBatches);
        await Task.Delay(50);

        Assert.Equal(maxConcurrentBatches, executor.Started);
        Assert.Equal(maxConcurrentBatches, batcher.InFlightBatches);

        executor.Open();
        int[] results = await Wait.ForAsync(Task.WhenAll(submits));

        Assert.Equal(Enumerable.Range(0, 12).Select(i => i * 10), results);
        Assert.Equal(maxConcurrentBatches, executor.MaxConcurrent);
        Assert.All(executor.BatchSizes, size => Assert.InRange(size, 1, maxBatchSize));
    }

    [Fact]
    public async Task Full_queue_applies_backpressure_until_space_frees()
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 1, maxQueueDelayMs: 0, queueCapacity: 2, maxConcurrentBatches: 1),
            executor.ExecuteAsync, _ => Small);

        var running = batcher.SubmitAsync(1).AsTask();
        await executor.WaitForStartedAsync(1);
        var queued = new[] { batcher.SubmitAsync(2).AsTask(), batcher.SubmitAsync(3).AsTask() };
        var blocked = batcher.SubmitAsync(4).AsTask();
        await Task.Delay(50);

        Assert.False(blocked.IsCompleted);
        Assert.Equal(2, batcher.QueueDepth);
        Assert.Equal(3, batcher.Snapshot().RequestsAccepted);

        executor.Open();
        int[] results = await Wait.ForAsync(Task.WhenAll([running, .. queued, blocked]));
        Assert.Equal([10, 20, 30, 40], results);
        Assert.Equal([1, 2, 3, 4], executor.Batches.Select(b => b.Requests[0]));
    }

    [Fact]
    public async Task Submit_waiting_on_a_full_queue_honours_cancellation()
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 1, maxQueueDelayMs: 0, queueCapacity: 1, maxConcurrentBatches: 1),
            executor.ExecuteAsync, _ => Small);

        var running = batcher.SubmitAsync(1).AsTask();
        await executor.WaitForStartedAsync(1);
        var queued = batcher.SubmitAsync(2).AsTask();
        using var cts = new CancellationTokenSource();
        var blocked = batcher.SubmitAsync(3, cts.Token).AsTask();
        await Task.Delay(20);
        Assert.False(blocked.IsCompleted);

        cts.Cancel();
        var exception = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(blocked));
        Assert.Equal(cts.Token, exception.CancellationToken);

        executor.Open();
        int[] results = await Wait.ForAsync(Task.WhenAll(running, queued));
        Assert.Equal([10, 20], results);
        Assert.DoesNotContain(executor.Batches, b => b.Requests.Contains(3));
        Assert.Equal(1, batcher.Snapshot().RequestsCancelled);
    }

    private sealed class BucketEchoExecutor : IBatchExecutor<int, string>
    {
        public ValueTask<IReadOnlyList<string>> ExecuteAsync(BatchContext<int> batch, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyList<string>>([.. batch.Requests.Select(r => $"{r} in {batch.Bucket} (batch {batch.BatchId})")]);
    }
}
