namespace NfcPipeline.Inference.Batching;

/// <summary>One batch handed to the executor: requests of a single shape bucket, in the order they were queued.</summary>
/// <remarks>The executor must return exactly one result per request, at the same index.</remarks>
public sealed class BatchContext<TRequest>
{
    private readonly TRequest[] _requests;
    private readonly Func<int, bool>? _hasEnded;

    public BatchContext(ShapeBucket bucket, IReadOnlyList<TRequest> requests, long batchId = 0, Func<int, bool>? hasEnded = null)
    {
        ArgumentNullException.ThrowIfNull(requests);
        _requests = requests as TRequest[] ?? [.. requests];
        Bucket = bucket;
        BatchId = batchId;
        _hasEnded = hasEnded;
    }

    /// <summary>
    /// Whether the request at <paramref name="index"/> has ended while its batch ran (its caller cancelled, its deadline
    /// passed): its result is discarded, so an executor running images one at a time may pass it over.
    /// </summary>
    public bool HasEnded(int index) => _hasEnded?.Invoke(index) ?? false;

    /// <summary>Increases by one for every batch a batcher dispatches; useful to correlate logs.</summary>
    public long BatchId { get; }

    /// <summary>The bucket every request of this batch belongs to.</summary>
    public ShapeBucket Bucket { get; }

    public IReadOnlyList<TRequest> Requests => _requests;

    public int Count => _requests.Length;

    public ReadOnlySpan<TRequest> AsSpan() => _requests;
}
