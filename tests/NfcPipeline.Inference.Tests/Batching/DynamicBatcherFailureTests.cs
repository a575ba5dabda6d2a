using NfcPipeline.Inference.Batching;

namespace NfcPipeline.Inference.Tests.Batching;

public class DynamicBatcherFailureTests
{
    private static readonly ShapeBucket Bucket = new(512, 512);

    private static TestExecutor<int, int> TimesTen(bool gated = false) =>
        new(batch => [.. batch.Requests.Select(r => r * 10)]) { Gated = gated };

    [Fact]
    public async Task Cancelled_queued_request_completes_cancelled_and_never_reaches_executor()
    {
        // A minute of delay: the cancelled request can only leave the queue by being cancelled.
        var executor = TimesTen();
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Bucket);

        using var cts = new CancellationTokenSource();
        var cancelled = batcher.SubmitAsync(1, cts.Token).AsTask();
        await Task.Delay(10);
        cts.Cancel();

        var exception = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(cancelled));
        Assert.Equal(cts.Token, exception.CancellationToken);
        Assert.Equal(0, batcher.QueueDepth);

        // The next full batch holds only the requests that were not cancelled.
        int[] results = await Wait.ForAsync(Task.WhenAll(batcher.SubmitAsync(2).AsTask(), batcher.SubmitAsync(3).AsTask()));
        Assert.Equal([20, 30], results);
        Assert.Equal([2, 3], executor.Batches.Single().Requests);
        Assert.Equal(1, batcher.Snapshot().RequestsCancelled);
    }

    [Fact]
    public async Task Already_cancelled_token_completes_at_once()
    {
        var executor = TimesTen();
        await using var batcher = new DynamicBatcher<int, int>(TestOptions.Create(), executor.ExecuteAsync, _ => Bucket);

        var submit = batcher.SubmitAsync(1, new CancellationToken(canceled: true));

        Assert.True(submit.IsCanceled);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => submit.AsTask());
        Assert.Equal(0, batcher.QueueDepth);
    }

    [Fact]
    public async Task Request_cancelled_while_its_batch_runs_completes_cancelled_and_others_get_results()
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Bucket);

        using var cts = new CancellationTokenSource();
        var cancelled = batcher.SubmitAsync(1, cts.Token).AsTask();
        var kept = batcher.SubmitAsync(2).AsTask();
        await executor.WaitForStartedAsync(1);
        cts.Cancel();

        // Completes while the executor is still held, and the batch's token stays live for the other request.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(cancelled));
        Assert.False(kept.IsCompleted);
        Assert.False(executor.Tokens.Single().IsCancellationRequested);
        // The executor can tell, and pass the ended one over when it runs images one at a time.
        var batch = executor.Batches.Single();
        Assert.Equal((true, false), (batch.HasEnded(0), batch.HasEnded(1)));

        executor.Open();
        Assert.Equal(20, await Wait.ForAsync(kept));
        Assert.Equal([1, 2], executor.Batches.Single().Requests);
    }

    [Fact]
    public async Task Executor_token_is_cancelled_when_every_request_of_the_batch_is_abandoned()
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Bucket);

        using var cts = new CancellationTokenSource();
        var submits = new[] { batcher.SubmitAsync(1, cts.Token).AsTask(), batcher.SubmitAsync(2, cts.Token).AsTask() };
        await executor.WaitForStartedAsync(1);
        cts.Cancel();

        foreach (var submit in submits)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(submit));
        }

        Assert.True(executor.Tokens.Single().IsCancellationRequested);
        executor.Open();
    }

    [Fact]
    public async Task Queued_request_past_its_deadline_fails_with_deadline_exceeded()
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 1, maxQueueDelayMs: 0, maxConcurrentBatches: 1), executor.ExecuteAsync, _ => Bucket);

        var running = batcher.SubmitAsync(1).AsTask();
        await executor.WaitForStartedAsync(1);
        var late = batcher.SubmitAsync(2, deadline: TimeSpan.FromMilliseconds(30)).AsTask();

        var exception = await Assert.ThrowsAsync<DeadlineExceededException>(() => Wait.ForAsync(late));
        Assert.IsAssignableFrom<TimeoutException>(exception);
        Assert.Equal(TimeSpan.FromMilliseconds(30), exception.Deadline);
        Assert.Equal(0, batcher.QueueDepth);

        executor.Open();
        Assert.Equal(10, await Wait.ForAsync(running));
        Assert.Equal([1], executor.Batches.Single().Requests);
        Assert.Equal(1, batcher.Snapshot().RequestsDeadlineExceeded);
    }

    [Fact]
    public async Task Deadline_passing_while_the_batch_runs_ends_that_request_only()
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Bucket);

        // A deadline long enough for the pair to be batched on a loaded machine (at 30 ms, one CI run saw it pass while
        // queued, leaving the other request to wait out the queue delay), short enough for the test to wait out.
        var late = batcher.SubmitAsync(1, deadline: TimeSpan.FromSeconds(2)).AsTask();
        var kept = batcher.SubmitAsync(2).AsTask();
        await executor.WaitForStartedAsync(1);
        Assert.Equal([1, 2], executor.Batches.Single().Requests);

        await Assert.ThrowsAsync<DeadlineExceededException>(() => Wait.ForAsync(late));
        Assert.False(kept.IsCompleted);
        Assert.False(executor.Tokens.Single().IsCancellationRequested);

        executor.Open();
        Assert.Equal(20, await Wait.ForAsync(kept));
        var statistics = batcher.Snapshot();
        Assert.Equal(1, statistics.RequestsDeadlineExceeded);
        Assert.Equal(1, statistics.RequestsProcessed);
    }

    [Fact]
    public async Task Default_deadline_applies_when_submit_gives_none()
    {
        var executor = TimesTen(gated: true);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 1, maxConcurrentBatches: 1, defaultDeadline: TimeSpan.FromMilliseconds(40)),
            executor.ExecuteAsync, _ => Bucket);

        var running = batcher.SubmitAsync(1, deadline: Timeout.InfiniteTimeSpan).AsTask();
        await executor.WaitForStartedAsync(1);
        var late = batcher.SubmitAsync(2).AsTask();

        await Assert.ThrowsAsync<DeadlineExceededException>(() => Wait.ForAsync(late));
        executor.Open();
        Assert.Equal(10, await Wait.ForAsync(running));
    }

    [Fact]
    public async Task Executor_exception_fails_exactly_the_requests_of_that_batch()
    {
        var poison = new InvalidDataException("corrupt tensor");
        var executor = new TestExecutor<int, int>(batch =>
            batch.Requests.Contains(-1) ? throw poison : [.. batch.Requests.Select(r => r * 10)]);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000, maxConcurrentBatches: 1), executor.ExecuteAsync, _ => Bucket);

        var submits = new[] { 1, 2, -1, 3, 4, 5 }.Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await Wait.UntilAsync(() => submits.All(t => t.IsCompleted), "every submit to complete");

        Assert.Equal(new[] { 10, 20 }, new[] { await submits[0], await submits[1] });
        Assert.Same(poison, await Assert.ThrowsAsync<InvalidDataException>(() => submits[2]));
        Assert.Same(poison, await Assert.ThrowsAsync<InvalidDataException>(() => submits[3]));
        Assert.Equal(new[] { 40, 50 }, new[] { await submits[4], await submits[5] });

        // The batcher carries on after a failed batch.
        var later = new[] { batcher.SubmitAsync(6).AsTask(), batcher.SubmitAsync(7).AsTask() };
        int[] laterResults = await Wait.ForAsync(Task.WhenAll(later));
        Assert.Equal([60, 70], laterResults);

        var statistics = batcher.Snapshot();
        Assert.Equal(2, statistics.RequestsFailed);
        Assert.Equal(1, statistics.BatchesFailed);
        Assert.Equal(6, statistics.RequestsProcessed);
    }

    [Fact]
    public async Task Wrong_result_count_faults_the_batch_with_a_clear_error()
    {
        var executor = new TestExecutor<int, int>(batch => [.. batch.Requests.Skip(1)]);
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Bucket);

        var submits = new[] { batcher.SubmitAsync(1).AsTask(), batcher.SubmitAsync(2).AsTask() };

        foreach (var submit in submits)
        {
            var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => Wait.ForAsync(submit));
            Assert.Contains("returned 1 results for a batch of 2 requests", exception.Message);
        }
    }

    [Fact]
    public async Task A_logger_that_throws_when_a_batch_is_dispatched_fails_that_batch_and_never_leaves_it_running()
    {
        // Before, the dispatch's logging ran outside the try: its exception skipped FinishBatch, the callers waited for
        // ever and so did the drain.
        var executor = TimesTen();
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 2, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Bucket, new ThrowingLogger());

        var submits = new[] { batcher.SubmitAsync(1).AsTask(), batcher.SubmitAsync(2).AsTask() };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Wait.ForAsync(Task.WhenAll(submits)));
        Assert.Equal("the log is broken", error.Message);
        // The batch leaves the count only after its callers have their answers.
        await Wait.UntilAsync(() => batcher.InFlightBatches == 0, "the batch finished");
        await Wait.ForAsync(batcher.DrainAsync());
    }

    [Fact]
    public async Task A_running_batch_whose_only_caller_cancelled_is_not_counted_as_failed()
    {
        // Its executor stops with the batch's token: no caller was failed, so the statistics the heartbeat and the
        // benchmarks read must not say a batch failed.
        await using var batcher = new DynamicBatcher<int, int>(TestOptions.Create(maxBatchSize: 1),
            async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return [0]; }, _ => Bucket);
        using var cts = new CancellationTokenSource();
        var submit = batcher.SubmitAsync(1, cts.Token).AsTask();
        await Wait.UntilAsync(() => batcher.InFlightBatches == 1, "the batch running");

        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(submit));
        await Wait.UntilAsync(() => batcher.InFlightBatches == 0, "the batch finished");
        Assert.Equal(0, batcher.Snapshot().BatchesFailed);
        Assert.Equal(1, batcher.Snapshot().RequestsCancelled);
    }

    private sealed class ThrowingLogger : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 1) throw new InvalidOperationException("the log is broken");   // BatchDispatched only
        }
    }
}
