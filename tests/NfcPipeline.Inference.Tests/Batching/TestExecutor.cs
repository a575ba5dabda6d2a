using System.Collections.Concurrent;
using NfcPipeline.Inference.Batching;

namespace NfcPipeline.Inference.Tests.Batching;

/// <summary>
/// An executor that records every batch it sees, counts concurrent calls, and can be held at a gate, like a
/// synchronous session run that ignores its token until it finishes.
/// </summary>
internal sealed class TestExecutor<TRequest, TResult>(Func<BatchContext<TRequest>, IReadOnlyList<TResult>> compute)
{
    private readonly ConcurrentQueue<BatchContext<TRequest>> _batches = new();
    private readonly ConcurrentQueue<CancellationToken> _tokens = new();
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _current;
    private int _maxConcurrent;
    private int _started;

    /// <summary>When true, each call waits until <see cref="Open"/>.</summary>
    public bool Gated { get; init; }

    public TimeSpan Delay { get; init; }

    public IReadOnlyList<BatchContext<TRequest>> Batches => [.. _batches];

    public IReadOnlyList<int> BatchSizes => [.. _batches.Select(b => b.Count)];

    public IReadOnlyList<CancellationToken> Tokens => [.. _tokens];

    public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

    public int Started => Volatile.Read(ref _started);

    public void Open() => _gate.TrySetResult();

    /// <summary>How long a gated call waits for <see cref="Open"/> before it fails its batch.</summary>
    public static readonly TimeSpan GateLimit = TimeSpan.FromSeconds(30);

    public async ValueTask<IReadOnlyList<TResult>> ExecuteAsync(BatchContext<TRequest> batch, CancellationToken cancellationToken)
    {
        _batches.Enqueue(batch);
        _tokens.Enqueue(cancellationToken);
        int current = Interlocked.Increment(ref _current);
        int seen;
        while (current > (seen = Volatile.Read(ref _maxConcurrent)) && Interlocked.CompareExchange(ref _maxConcurrent, current, seen) != seen)
        {
        }

        Interlocked.Increment(ref _started);
        try
        {
            if (Gated)
            {
                // Bounded, so a test that fails before Open still ends its batcher's drain and reports the failure.
                await _gate.Task.WaitAsync(GateLimit);
            }

            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, CancellationToken.None);
            }

            return compute(batch);
        }
        finally
        {
            Interlocked.Decrement(ref _current);
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> executor calls have begun.</summary>
    public Task WaitForStartedAsync(int count) => Wait.UntilAsync(() => Started >= count, $"{count} executor calls to start");
}

internal static class Wait
{
    /// <summary>Generous, since the test machine is small and shared; a passing test returns as soon as the condition holds.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Gave up waiting for {what}.");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Awaits a task that must finish, failing the test instead of hanging if it does not.</summary>
    public static async Task<T> ForAsync<T>(Task<T> task) => await task.WaitAsync(Patience);

    public static async Task ForAsync(Task task) => await task.WaitAsync(Patience);
}

internal static class TestOptions
{
    public static DynamicBatcherOptions Create(int maxBatchSize = 8, int maxQueueDelayMs = 5, int queueCapacity = 64,
        int maxConcurrentBatches = 2, int[]? preferred = null, TimeSpan? defaultDeadline = null) => new()
    {
        Name = "test",
        MaxBatchSize = maxBatchSize,
        MaxQueueDelay = TimeSpan.FromMilliseconds(maxQueueDelayMs),
        QueueCapacity = queueCapacity,
        MaxConcurrentBatches = maxConcurrentBatches,
        PreferredBatchSizes = preferred ?? [],
        DefaultDeadline = defaultDeadline,
    };
}

/// <summary>A request that carries its own bucket, so tests choose the bucket of every request.</summary>
internal readonly record struct ImageRequest(int Id, ShapeBucket Bucket);
