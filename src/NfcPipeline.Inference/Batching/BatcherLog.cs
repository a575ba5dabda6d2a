using Microsoft.Extensions.Logging;

namespace NfcPipeline.Inference.Batching;

internal static partial class BatcherLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug,
        Message = "Batcher {Batcher}: batch {BatchId} of {BatchSize} requests in bucket {Bucket} dispatched")]
    public static partial void BatchDispatched(ILogger logger, string batcher, long batchId, int batchSize, ShapeBucket bucket);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "Batcher {Batcher}: batch {BatchId} of {BatchSize} requests in bucket {Bucket} failed after {ElapsedMs:0.0} ms; {FailedRequests} waiting requests fail with this error")]
    public static partial void BatchFailed(ILogger logger, Exception exception, string batcher, long batchId, int batchSize, ShapeBucket bucket, double elapsedMs, int failedRequests);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information,
        Message = "Batcher {Batcher}: draining, {QueueDepth} requests queued and {InFlight} batches in flight")]
    public static partial void Draining(ILogger logger, string batcher, int queueDepth, int inFlight);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Batcher {Batcher}: drained")]
    public static partial void Drained(ILogger logger, string batcher);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning,
        Message = "Batcher {Batcher}: drain ran out of time; {Abandoned} requests end as cancelled and running executors are asked to stop")]
    public static partial void DrainAbandoned(ILogger logger, string batcher, int abandoned);
}
