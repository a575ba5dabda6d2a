using System.Diagnostics.Metrics;

namespace NfcPipeline.Inference.Batching;

/// <summary>The meter and instrument names a batcher publishes through System.Diagnostics.Metrics.</summary>
public static class DynamicBatcherMetrics
{
    public const string MeterName = "NfcPipeline.Inference";

    /// <summary>Histogram, requests per executed batch.</summary>
    public const string BatchSize = "nfc.batcher.batch_size";

    /// <summary>Histogram, ms from a request entering the queue to its batch being dispatched.</summary>
    public const string QueueWait = "nfc.batcher.queue_wait";

    /// <summary>Histogram, ms the executor took for one batch.</summary>
    public const string ExecutionTime = "nfc.batcher.execution_time";

    /// <summary>Counter, requests whose caller received a result; its rate is images per second.</summary>
    public const string RequestsProcessed = "nfc.batcher.requests_processed";

    /// <summary>Counter, requests failed by an executor error.</summary>
    public const string RequestsFailed = "nfc.batcher.requests_failed";

    /// <summary>Counter, requests that ended without running, tagged "nfc.batcher.reason": cancelled, deadline or shutdown.</summary>
    public const string RequestsCancelled = "nfc.batcher.requests_cancelled";

    /// <summary>Observable gauge, requests waiting in the queue.</summary>
    public const string QueueDepth = "nfc.batcher.queue_depth";

    /// <summary>Tag on every measurement: the batcher's configured name.</summary>
    public const string NameTag = "nfc.batcher.name";

    public const string ReasonTag = "nfc.batcher.reason";
}

/// <summary>The instruments of one batcher, all tagged with its name.</summary>
internal sealed class BatcherInstruments : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly KeyValuePair<string, object?> _nameTag;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _executionTime;
    private readonly Counter<long> _processed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _cancelled;
    private volatile bool _disposed;

    public BatcherInstruments(Meter? meter, string batcherName, Func<int> queueDepth)
    {
        _ownsMeter = meter is null;
        _meter = meter ?? new Meter(DynamicBatcherMetrics.MeterName);
        _nameTag = new(DynamicBatcherMetrics.NameTag, batcherName);
        _batchSize = _meter.CreateHistogram<int>(DynamicBatcherMetrics.BatchSize, "{request}", "Requests per executed batch.");
        _queueWait = _meter.CreateHistogram<double>(DynamicBatcherMetrics.QueueWait, "ms", "Time a request waited in the queue before its batch was dispatched.");
        _executionTime = _meter.CreateHistogram<double>(DynamicBatcherMetrics.ExecutionTime, "ms", "Executor time per batch.");
        _processed = _meter.CreateCounter<long>(DynamicBatcherMetrics.RequestsProcessed, "{request}", "Requests whose caller received a result.");
        _failed = _meter.CreateCounter<long>(DynamicBatcherMetrics.RequestsFailed, "{request}", "Requests failed by an executor error.");
        _cancelled = _meter.CreateCounter<long>(DynamicBatcherMetrics.RequestsCancelled, "{request}", "Requests that ended without a result: cancelled, past their deadline, or abandoned at shutdown.");

        // A shared meter outlives the batcher; a disposed batcher reports nothing rather than a stale zero.
        _meter.CreateObservableGauge(
            DynamicBatcherMetrics.QueueDepth,
            () => _disposed ? [] : new[] { new Measurement<int>(queueDepth(), _nameTag) },
            "{request}",
            "Requests waiting in the queue.");
    }

    public void BatchDispatched(int size) => _batchSize.Record(size, _nameTag);

    public void QueueWaited(TimeSpan wait) => _queueWait.Record(wait.TotalMilliseconds, _nameTag);

    public void BatchExecuted(TimeSpan elapsed, int processed, int failed)
    {
        _executionTime.Record(elapsed.TotalMilliseconds, _nameTag);
        if (processed > 0)
        {
            _processed.Add(processed, _nameTag);
        }

        if (failed > 0)
        {
            _failed.Add(failed, _nameTag);
        }
    }

    public void RequestsEnded(EndReason reason, int count)
    {
        if (count > 0)
        {
            _cancelled.Add(count, _nameTag, new(DynamicBatcherMetrics.ReasonTag, ReasonName(reason)));
        }
    }

    public void Dispose()
    {
        _disposed = true;
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static string ReasonName(EndReason reason) => reason switch
    {
        EndReason.Cancelled => "cancelled",
        EndReason.Deadline => "deadline",
        _ => "shutdown",
    };
}

/// <summary>Why a request ended without a result.</summary>
internal enum EndReason
{
    Cancelled,
    Deadline,
    Shutdown,
}
