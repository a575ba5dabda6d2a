using System.Diagnostics;

namespace NfcPipeline.Inference.Batching;

/// <summary>The counters behind <see cref="BatcherStatistics"/>. Not thread-safe: the batcher updates it under its lock.</summary>
internal sealed class BatcherStatisticsCollector
{
    private readonly string _name;
    private readonly TimeSpan _window;
    private readonly ThroughputTracker _throughput;
    private long _accepted;
    private long _processed;
    private long _failed;
    private long _cancelled;
    private long _deadlineExceeded;
    private long _batches;
    private long _failedBatches;
    private long _batchedRequests;
    private long _executionTicks;
    private int _lastBatchSize;
    private TimeSpan _lastBatchDuration;

    public BatcherStatisticsCollector(string name, TimeSpan window)
    {
        _name = name;
        _window = window;
        _throughput = new ThroughputTracker(window, Stopwatch.GetTimestamp());
    }

    public void Accepted() => _accepted++;

    public void Ended(EndReason reason, int count)
    {
        if (reason == EndReason.Deadline)
        {
            _deadlineExceeded += count;
        }
        else
        {
            _cancelled += count;
        }
    }

    public void BatchFinished(int size, TimeSpan duration, int processed, int failed, bool batchFailed, long now)
    {
        _batches++;
        _batchedRequests += size;
        _executionTicks += duration.Ticks;
        _lastBatchSize = size;
        _lastBatchDuration = duration;
        _processed += processed;
        _failed += failed;
        if (batchFailed)
        {
            _failedBatches++;
        }

        if (processed > 0)
        {
            _throughput.Add(now, processed);
        }
    }

    public BatcherStatistics Snapshot(int queueDepth, int inFlight, long now) => new()
    {
        Name = _name,
        RequestsAccepted = _accepted,
        RequestsProcessed = _processed,
        RequestsFailed = _failed,
        RequestsCancelled = _cancelled,
        RequestsDeadlineExceeded = _deadlineExceeded,
        BatchesExecuted = _batches,
        BatchesFailed = _failedBatches,
        MeanBatchSize = _batches == 0 ? 0 : (double)_batchedRequests / _batches,
        LastBatchSize = _lastBatchSize,
        LastBatchDuration = _lastBatchDuration,
        MeanBatchDuration = _batches == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(_executionTicks / _batches),
        QueueDepth = queueDepth,
        InFlightBatches = inFlight,
        RequestsPerSecond = _throughput.RatePerSecond(now),
        Window = _window,
    };
}
