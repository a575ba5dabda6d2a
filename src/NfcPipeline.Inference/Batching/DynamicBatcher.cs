using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NfcPipeline.Inference.Batching;

/// <summary>
/// Groups requests into batches, after Triton's dynamic batcher, and runs them through an executor. A batch holds
/// requests of one <see cref="ShapeBucket"/> only. A bucket is dispatched when it holds MaxBatchSize requests or a
/// preferred size, or when its oldest request has waited MaxQueueDelay; of the buckets ready at once, the one whose
/// oldest request came first goes first, so no bucket starves. At most MaxConcurrentBatches batches run at a time.
/// See docs/batching.md for the semantics of errors, cancellation, deadlines and shutdown.
/// </summary>
public sealed partial class DynamicBatcher<TRequest, TResult> : IAsyncDisposable
{
    private readonly Func<BatchContext<TRequest>, CancellationToken, ValueTask<IReadOnlyList<TResult>>> _executor;
    private readonly Func<TRequest, ShapeBucket> _bucketSelector;
    private readonly ILogger _logger;
    private readonly BatcherInstruments _instruments;
    private readonly BatcherStatisticsCollector _statistics;
    private readonly string _name;
    private readonly int _maxBatchSize;
    private readonly long _maxQueueDelayTicks;
    private readonly int[] _preferredSizesDescending;
    private readonly int _maxConcurrentBatches;
    private readonly TimeSpan? _defaultDeadline;

    // Everything below is guarded by _gate, except the semaphores and the cancellation source, which are thread-safe.
    private readonly object _gate = new();
    private readonly Dictionary<ShapeBucket, BucketQueue> _buckets = [];
    private readonly List<RunningBatch> _running = [];
    private readonly SemaphoreSlim _queueSlots;
    private readonly SemaphoreSlim _dispatcherWake = new(0);
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly Task _dispatcher;
    private bool _wakePending;
    private volatile bool _accepting = true;
    private volatile bool _disposed;
    private Lazy<Task>? _disposal;
    private int _queued;
    private int _inFlight;
    private long _lastBatchId;

    public DynamicBatcher(
        DynamicBatcherOptions options,
        Func<BatchContext<TRequest>, CancellationToken, ValueTask<IReadOnlyList<TResult>>> executor,
        Func<TRequest, ShapeBucket> bucketSelector,
        ILogger? logger = null,
        Meter? meter = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(bucketSelector);
        options.ThrowIfInvalid();

        // Copied, so that changing the options object later cannot change a running batcher.
        _name = options.Name;
        _maxBatchSize = options.MaxBatchSize;
        _maxQueueDelayTicks = (long)(options.MaxQueueDelay.TotalSeconds * Stopwatch.Frequency);
        _preferredSizesDescending = [.. options.PreferredBatchSizes.OrderDescending()];
        _maxConcurrentBatches = options.MaxConcurrentBatches;
        _defaultDeadline = options.DefaultDeadline;
        _executor = executor;
        _bucketSelector = bucketSelector;
        _logger = logger ?? NullLogger.Instance;
        _queueSlots = new SemaphoreSlim(options.QueueCapacity, options.QueueCapacity);
        _statistics = new BatcherStatisticsCollector(_name, options.StatisticsWindow);
        _instruments = new BatcherInstruments(meter, _name, () => Volatile.Read(ref _queued));
        _dispatcher = Task.Run(RunDispatcherAsync);
    }

    public DynamicBatcher(
        DynamicBatcherOptions options,
        IBatchExecutor<TRequest, TResult> executor,
        Func<TRequest, ShapeBucket> bucketSelector,
        ILogger? logger = null,
        Meter? meter = null)
        : this(options, (executor ?? throw new ArgumentNullException(nameof(executor))).ExecuteAsync, bucketSelector, logger, meter)
    {
    }

    public string Name => _name;

    /// <summary>Requests waiting in the queue, not counting batches in flight.</summary>
    public int QueueDepth => Volatile.Read(ref _queued);

    public int InFlightBatches => Volatile.Read(ref _inFlight);

    /// <summary>False once DrainAsync or DisposeAsync has begun.</summary>
    public bool IsAccepting => _accepting;

    /// <summary>
    /// Queues <paramref name="request"/> and completes with its result once its batch has run. Awaits while the queue
    /// is full. Ends with <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires
    /// first, with <see cref="DeadlineExceededException"/> when <paramref name="deadline"/> (from now; default
    /// DefaultDeadline) passes first, with the executor's exception when its batch fails, and with
    /// <see cref="InvalidOperationException"/> (<see cref="ObjectDisposedException"/> once disposed) after shutdown began.
    /// </summary>
    public ValueTask<TResult> SubmitAsync(TRequest request, CancellationToken cancellationToken = default, TimeSpan? deadline = null)
    {
        if (request is null)
        {
            throw new ArgumentNullException(nameof(request));
        }

        TimeSpan? effectiveDeadline = deadline == Timeout.InfiniteTimeSpan ? null : deadline ?? _defaultDeadline;
        if (effectiveDeadline is { } d && (d <= TimeSpan.Zero || d > DynamicBatcherOptions.LongestTimeout))
        {
            throw new ArgumentOutOfRangeException(nameof(deadline), d,
                $"A deadline must be positive and at most {DynamicBatcherOptions.LongestTimeout}, or Timeout.InfiniteTimeSpan for none.");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TResult>(cancellationToken);
        }

        if (!_accepting)
        {
            return ValueTask.FromException<TResult>(CreateRejection());
        }

        var pending = new PendingRequest(this, request, _bucketSelector(request), cancellationToken,
            effectiveDeadline, Stopwatch.GetTimestamp());
        if (_queueSlots.Wait(0))
        {
            Enqueue(pending);
            return new ValueTask<TResult>(pending.Task);
        }

        return WaitForQueueSlotAsync(pending);
    }

    /// <summary>A consistent copy of the counters, for heartbeats and benchmarks.</summary>
    public BatcherStatistics Snapshot()
    {
        lock (_gate)
        {
            return _statistics.Snapshot(_queued, _inFlight, Stopwatch.GetTimestamp());
        }
    }

    private async ValueTask<TResult> WaitForQueueSlotAsync(PendingRequest pending)
    {
        TimeSpan timeout = pending.Deadline is { } deadline
            ? deadline - Stopwatch.GetElapsedTime(pending.SubmittedAt)
            : Timeout.InfiniteTimeSpan;
        bool acquired = false;
        if (timeout == Timeout.InfiniteTimeSpan || timeout > TimeSpan.Zero)
        {
            // Allocated only on this slow path: shutdown must wake callers blocked on a full queue.
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(pending.CallerToken, _stopAccepting.Token);
            try
            {
                acquired = await _queueSlots.WaitAsync(timeout, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!pending.CallerToken.IsCancellationRequested)
            {
                throw CreateRejection();
            }
            catch (OperationCanceledException)
            {
                // Rethrown with the caller's own token rather than the linked one.
                CountEndedBeforeQueue(EndReason.Cancelled);
                pending.CallerToken.ThrowIfCancellationRequested();
                throw;
            }
        }

        if (!acquired)
        {
            CountEndedBeforeQueue(EndReason.Deadline);
            throw new DeadlineExceededException(pending.Deadline!.Value);
        }

        Enqueue(pending);
        return await pending.Task.ConfigureAwait(false);
    }

    /// <summary>Puts a request that holds a queue slot into its bucket, unless it is already over.</summary>
    private void Enqueue(PendingRequest pending)
    {
        TimeSpan? remaining = null;
        if (pending.Deadline is { } deadline)
        {
            remaining = deadline - Stopwatch.GetElapsedTime(pending.SubmittedAt);
            if (remaining <= TimeSpan.Zero)
            {
                _queueSlots.Release();
                pending.State = RequestState.Done;
                CountEndedBeforeQueue(EndReason.Deadline);
                pending.TrySetException(new DeadlineExceededException(deadline));
                return;
            }
        }

        // Armed before the lock: a token that has already fired runs the callback synchronously, which takes the lock.
        pending.Arm(remaining);
        bool rejected = false;
        bool alreadyOver = false;
        lock (_gate)
        {
            if (pending.State == RequestState.Done)
            {
                alreadyOver = true;
            }
            else if (!_accepting)
            {
                pending.State = RequestState.Done;
                rejected = true;
            }
            else
            {
                if (!_buckets.TryGetValue(pending.Bucket, out var queue))
                {
                    queue = new BucketQueue(pending.Bucket);
                    _buckets.Add(pending.Bucket, queue);
                }

                pending.EnqueuedAt = Stopwatch.GetTimestamp();
                pending.State = RequestState.Queued;
                queue.Append(pending);
                _queued++;
                _statistics.Accepted();

                // The dispatcher only needs waking when a new head starts a delay or the bucket reaches a dispatch size.
                if (queue.Count == 1 || queue.Count >= _maxBatchSize || Array.IndexOf(_preferredSizesDescending, queue.Count) >= 0)
                {
                    WakeDispatcher();
                }
            }
        }

        if (alreadyOver || rejected)
        {
            _queueSlots.Release();
            pending.ReleaseResources();
        }

        if (rejected)
        {
            pending.TrySetException(CreateRejection());
        }
    }

    /// <summary>Runs on the caller's token or the deadline timer firing; completes the request wherever it is.</summary>
    private void OnRequestCancelled(PendingRequest pending)
    {
        bool releaseSlot = false;
        bool releaseResources = true;
        RunningBatch? abandoned = null;
        EndReason reason = pending.CallerToken.IsCancellationRequested || pending.Deadline is null
            ? EndReason.Cancelled
            : EndReason.Deadline;
        lock (_gate)
        {
            switch (pending.State)
            {
                case RequestState.Done:
                    return;
                case RequestState.Created:
                    // Enqueue still holds the slot and releases it with the resources.
                    releaseResources = false;
                    break;
                case RequestState.Queued:
                    RemoveFromBucket(pending);
                    releaseSlot = true;
                    break;
                case RequestState.Dispatched:
                    var batch = pending.Batch!;
                    if (--batch.LiveRequests == 0)
                    {
                        abandoned = batch;
                    }

                    break;
            }

            pending.State = RequestState.Done;
            _statistics.Ended(reason, 1);
            WakeDispatcher();
        }

        _instruments.RequestsEnded(reason, 1);
        if (reason == EndReason.Cancelled)
        {
            pending.TrySetCanceled(pending.CallerToken);
        }
        else
        {
            pending.TrySetException(new DeadlineExceededException(pending.Deadline!.Value));
        }

        if (releaseSlot)
        {
            _queueSlots.Release();
        }

        if (releaseResources)
        {
            pending.ReleaseResources();
        }

        abandoned?.CancelExecution();
    }

    private void RemoveFromBucket(PendingRequest pending)
    {
        var queue = pending.Queue!;
        queue.Remove(pending);
        _queued--;
        if (queue.Count == 0)
        {
            _buckets.Remove(queue.Key);
        }
    }

    private void CountEndedBeforeQueue(EndReason reason)
    {
        lock (_gate)
        {
            _statistics.Ended(reason, 1);
        }

        _instruments.RequestsEnded(reason, 1);
    }

    private Exception CreateRejection() => _disposed
        ? new ObjectDisposedException("DynamicBatcher",
            $"The dynamic batcher '{_name}' has been disposed and accepts no new requests.")
        : new InvalidOperationException($"The dynamic batcher '{_name}' is draining and accepts no new requests.");

    /// <summary>Must be called under _gate; coalesces wake-ups so the semaphore count stays small.</summary>
    private void WakeDispatcher()
    {
        if (!_wakePending)
        {
            _wakePending = true;
            _dispatcherWake.Release();
        }
    }
}
