namespace NfcPipeline.Inference.Batching;

/// <summary>A consistent snapshot of one batcher's counters, for worker heartbeats and the CLI benchmark.</summary>
public sealed record BatcherStatistics
{
    public required string Name { get; init; }

    /// <summary>Requests that entered the queue.</summary>
    public long RequestsAccepted { get; init; }

    /// <summary>Requests whose caller received a result.</summary>
    public long RequestsProcessed { get; init; }

    /// <summary>Requests failed by an executor error (or a wrong result count).</summary>
    public long RequestsFailed { get; init; }

    /// <summary>Requests cancelled by their caller, or abandoned by a drain that ran out of time.</summary>
    public long RequestsCancelled { get; init; }

    public long RequestsDeadlineExceeded { get; init; }

    public long BatchesExecuted { get; init; }

    public long BatchesFailed { get; init; }

    /// <summary>Requests per executed batch, over the batcher's lifetime; 0 before the first batch.</summary>
    public double MeanBatchSize { get; init; }

    public int LastBatchSize { get; init; }

    /// <summary>Executor time of the last batch.</summary>
    public TimeSpan LastBatchDuration { get; init; }

    /// <summary>Mean executor time per batch over the batcher's lifetime.</summary>
    public TimeSpan MeanBatchDuration { get; init; }

    public int QueueDepth { get; init; }

    public int InFlightBatches { get; init; }

    /// <summary>Processed requests per second over <see cref="Window"/> (images per second when a request is an image).</summary>
    public double RequestsPerSecond { get; init; }

    public TimeSpan Window { get; init; }
}
