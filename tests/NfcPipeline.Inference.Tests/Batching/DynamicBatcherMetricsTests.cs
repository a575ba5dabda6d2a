using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using NfcPipeline.Inference.Batching;

namespace NfcPipeline.Inference.Tests.Batching;

public sealed class DynamicBatcherMetricsTests : IDisposable
{
    private static readonly ShapeBucket Bucket = new(512, 512);

    // A meter of this test's own, so measurements of batchers in other tests never reach the listener.
    private readonly Meter _meter = new($"{DynamicBatcherMetrics.MeterName}.Tests.{Guid.NewGuid():N}");
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, string? Name, string? Reason)> _measurements = new();

    public DynamicBatcherMetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Record(i, value, tags));
        _listener.Start();
    }

    [Fact]
    public async Task Metrics_record_batch_size_queue_wait_execution_time_and_request_counts()
    {
        var executor = new TestExecutor<int, int>(batch =>
            batch.Requests.Contains(-1) ? throw new InvalidDataException("bad batch") : [.. batch.Requests])
        {
            Delay = TimeSpan.FromMilliseconds(20),
        };
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 4, maxQueueDelayMs: 60_000), executor.ExecuteAsync, _ => Bucket, meter: _meter);

        await Wait.ForAsync(Task.WhenAll(Enumerable.Range(1, 4).Select(i => batcher.SubmitAsync(i).AsTask())));
        var failing = new[] { -1, 5, 6, 7 }.Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await Wait.UntilAsync(() => failing.All(t => t.IsCompleted), "the failing batch");

        Assert.Equal([4, 4], Values(DynamicBatcherMetrics.BatchSize));
        Assert.Equal(8, Values(DynamicBatcherMetrics.QueueWait).Length);
        Assert.All(Values(DynamicBatcherMetrics.QueueWait), ms => Assert.InRange(ms, 0, 5000));
        Assert.Equal(2, Values(DynamicBatcherMetrics.ExecutionTime).Length);
        Assert.All(Values(DynamicBatcherMetrics.ExecutionTime), ms => Assert.InRange(ms, 15, 5000));
        Assert.Equal(4, Values(DynamicBatcherMetrics.RequestsProcessed).Sum());
        Assert.Equal(4, Values(DynamicBatcherMetrics.RequestsFailed).Sum());
        Assert.All(_measurements, m => Assert.Equal("test", m.Name));
    }

    [Fact]
    public async Task Cancelled_and_late_requests_are_counted_by_reason()
    {
        var executor = new TestExecutor<int, int>(batch => [.. batch.Requests]) { Gated = true };
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 1, maxQueueDelayMs: 0, maxConcurrentBatches: 1), executor.ExecuteAsync, _ => Bucket,
            meter: _meter);

        var running = batcher.SubmitAsync(1).AsTask();
        await executor.WaitForStartedAsync(1);
        using var cts = new CancellationTokenSource();
        var cancelled = batcher.SubmitAsync(2, cts.Token).AsTask();
        var late = batcher.SubmitAsync(3, deadline: TimeSpan.FromMilliseconds(20)).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(cancelled));
        await Assert.ThrowsAsync<DeadlineExceededException>(() => Wait.ForAsync(late));
        executor.Open();
        await Wait.ForAsync(running);

        var ended = _measurements.Where(m => m.Instrument == DynamicBatcherMetrics.RequestsCancelled).ToArray();
        Assert.Equal(["cancelled", "deadline"], ended.Select(m => m.Reason).Order());
        Assert.All(ended, m => Assert.Equal(1, m.Value));
    }

    [Fact]
    public async Task Queue_depth_gauge_reports_waiting_requests()
    {
        var executor = new TestExecutor<int, int>(batch => [.. batch.Requests]) { Gated = true };
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 1, maxQueueDelayMs: 0, maxConcurrentBatches: 1), executor.ExecuteAsync, _ => Bucket,
            meter: _meter);

        var submits = Enumerable.Range(1, 4).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await executor.WaitForStartedAsync(1);
        _listener.RecordObservableInstruments();

        Assert.Equal([3], Values(DynamicBatcherMetrics.QueueDepth));
        executor.Open();
        await Wait.ForAsync(Task.WhenAll(submits));
    }

    [Fact]
    public async Task Snapshot_reports_totals_mean_batch_size_and_throughput()
    {
        var executor = new TestExecutor<int, int>(batch => [.. batch.Requests]) { Delay = TimeSpan.FromMilliseconds(10) };
        await using var batcher = new DynamicBatcher<int, int>(
            TestOptions.Create(maxBatchSize: 8, maxQueueDelayMs: 60_000, maxConcurrentBatches: 1), executor.ExecuteAsync, _ => Bucket);

        Assert.Equal(0, batcher.Snapshot().MeanBatchSize);
        await Wait.ForAsync(Task.WhenAll(Enumerable.Range(0, 16).Select(i => batcher.SubmitAsync(i).AsTask())));
        // The last batch leaves the in-flight count only after its callers have their answers.
        await Wait.UntilAsync(() => batcher.InFlightBatches == 0, "the last batch finished");

        var statistics = batcher.Snapshot();
        Assert.Equal("test", statistics.Name);
        Assert.Equal(16, statistics.RequestsAccepted);
        Assert.Equal(16, statistics.RequestsProcessed);
        Assert.Equal(2, statistics.BatchesExecuted);
        Assert.Equal(8.0, statistics.MeanBatchSize);
        Assert.Equal(8, statistics.LastBatchSize);
        Assert.InRange(statistics.LastBatchDuration, TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(5));
        Assert.Equal(0, statistics.QueueDepth);
        Assert.Equal(0, statistics.InFlightBatches);
        Assert.True(statistics.RequestsPerSecond > 0, $"throughput {statistics.RequestsPerSecond}");
        Assert.Equal(TimeSpan.FromSeconds(10), statistics.Window);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _meter.Dispose();
    }

    private double[] Values(string instrument) =>
        [.. _measurements.Where(m => m.Instrument == instrument).Select(m => m.Value)];

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct
    {
        string? name = null;
        string? reason = null;
        foreach (var tag in tags)
        {
            if (tag.Key == DynamicBatcherMetrics.NameTag)
            {
                name = tag.Value as string;
            }
            else if (tag.Key == DynamicBatcherMetrics.ReasonTag)
            {
                reason = tag.Value as string;
            }
        }

        _measurements.Enqueue((instrument.Name, Convert.ToDouble(value), name, reason));
    }
}
