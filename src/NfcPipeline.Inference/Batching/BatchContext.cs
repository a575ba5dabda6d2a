namespace NfcPipeline.Inference.Batching;

/// <summary>One batch handed to the executor: requests of a single shape bucket, in the order they were queued.</summary>
/// <remarks>The executor must return exactly one result per request, at the same index.</remarks>
public sealed class BatchContext<TRequest>
{
    private readonly TRequest[] _requests;

    public BatchContext(ShapeBucket bucket, IReadOnlyList<TRequest> requests, long batchId = 0)
    {
        ArgumentNullException.ThrowIfNull(requests);
        _requests = requests as TRequest[] ?? [.. requests];
        Bucket = bucket;
        BatchId = batchId;
    }

    /// <summary>Increases by one for every batch a batcher dispatches; useful to correlate logs.</summary>
    public long BatchId { get; }

    /// <summary>The bucket every request of this batch belongs to.</summary>
    public ShapeBucket Bucket { get; }

    public IReadOnlyList<TRequest> Requests => _requests;

    public int Count => _requests.Length;

    public ReadOnlySpan<TRequest> AsSpan() => _requests;
}
