using System.Diagnostics;

namespace NfcPipeline.Inference.Batching;

public sealed partial class DynamicBatcher<TRequest, TResult>
{
    /// <summary>
    /// Stops accepting requests, dispatches what is queued without waiting out MaxQueueDelay (no companion can come
    /// any more), and completes when every accepted request has finished. If <paramref name="cancellationToken"/>
    /// fires first, the requests still queued or running end with <see cref="OperationCanceledException"/>, running
    /// executors see their token cancelled, and this method throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task DrainAsync(CancellationToken cancellationToken = default)
    {
        StopAccepting();
        try
        {
            await _dispatcher.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            AbandonOutstandingRequests();
            throw;
        }
    }

    /// <summary>
    /// Drains (without a time limit, including executors still running after an abandoned drain), then releases the
    /// batcher's meter if it created one. SubmitAsync then fails with <see cref="ObjectDisposedException"/>. Every
    /// caller, a second or concurrent one too, returns once the drain is done: the session may be released after it.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        var disposal = new Lazy<Task>(DisposeOnceAsync);
        return new ValueTask((Interlocked.CompareExchange(ref _disposal, disposal, null) ?? disposal).Value);
    }

    private async Task DisposeOnceAsync()
    {
        _disposed = true;
        await DrainAsync(CancellationToken.None).ConfigureAwait(false);
        _instruments.Dispose();
    }

    private void StopAccepting()
    {
        bool first;
        int queued;
        int inFlight;
        lock (_gate)
        {
            first = _accepting;
            _accepting = false;
            queued = _queued;
            inFlight = _inFlight;
            WakeDispatcher();
        }

        if (first)
        {
            BatcherLog.Draining(_logger, _name, queued, inFlight);
            _stopAccepting.Cancel();
        }
    }

    /// <summary>The single dispatcher: forms batches under the lock, starts them outside it, sleeps until needed.</summary>
    private async Task RunDispatcherAsync()
    {
        var started = new List<RunningBatch>(_maxConcurrentBatches);
        while (true)
        {
            bool finished;
            int sleepMilliseconds;
            lock (_gate)
            {
                _wakePending = false;
                long now = Stopwatch.GetTimestamp();
                while (_inFlight < _maxConcurrentBatches && TryTakeBatch(now) is { } batch)
                {
                    _inFlight++;
                    _running.Add(batch);
                    started.Add(batch);
                }

                finished = !_accepting && _queued == 0 && _inFlight == 0;
                sleepMilliseconds = _inFlight < _maxConcurrentBatches ? MillisecondsUntilNextDelayExpires(now) : Timeout.Infinite;
            }

            foreach (var batch in started)
            {
                // On the thread pool: an executor may run synchronously (an ORT session run) before its first await.
                _ = Task.Run(() => ExecuteAsync(batch));
            }

            started.Clear();
            if (finished)
            {
                BatcherLog.Drained(_logger, _name);
                return;
            }

            await _dispatcherWake.WaitAsync(sleepMilliseconds).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the next batch from the ready bucket whose oldest request came first; null when none is ready.</summary>
    private RunningBatch? TryTakeBatch(long now)
    {
        BucketQueue? chosen = null;
        int chosenSize = 0;
        foreach (var queue in _buckets.Values)
        {
            int size = DispatchableSize(queue, now);
            if (size > 0 && (chosen is null || queue.Head!.EnqueuedAt < chosen.Head!.EnqueuedAt))
            {
                chosen = queue;
                chosenSize = size;
            }
        }

        if (chosen is null)
        {
            return null;
        }

        var requests = new PendingRequest[chosenSize];
        for (int i = 0; i < chosenSize; i++)
        {
            var request = chosen.TakeHead();
            request.State = RequestState.Dispatched;
            requests[i] = request;
        }

        _queued -= chosenSize;
        if (chosen.Count == 0)
        {
            _buckets.Remove(chosen.Key);
        }

        var batch = new RunningBatch(++_lastBatchId, chosen.Key, requests, now);
        foreach (var request in requests)
        {
            request.Batch = batch;
        }

        return batch;
    }

    /// <summary>How many requests of a bucket may go now: a full batch, all once the delay expired, or a preferred size.</summary>
    private int DispatchableSize(BucketQueue queue, long now)
    {
        int count = queue.Count;
        if (count >= _maxBatchSize)
        {
            return _maxBatchSize;
        }

        if (!_accepting || now - queue.Head!.EnqueuedAt >= _maxQueueDelayTicks)
        {
            return count;
        }

        foreach (int size in _preferredSizesDescending)
        {
            if (size <= count)
            {
                return size;
            }
        }

        return 0;
    }

    private int MillisecondsUntilNextDelayExpires(long now)
    {
        long earliest = long.MaxValue;
        foreach (var queue in _buckets.Values)
        {
            earliest = Math.Min(earliest, queue.Head!.EnqueuedAt + _maxQueueDelayTicks);
        }

        if (earliest == long.MaxValue)
        {
            return Timeout.Infinite;
        }

        double milliseconds = (earliest - now) * 1000.0 / Stopwatch.Frequency;
        return (int)Math.Clamp(Math.Ceiling(milliseconds), 1, int.MaxValue);
    }

    private async Task ExecuteAsync(RunningBatch batch)
    {
        _queueSlots.Release(batch.Requests.Length);
        long started = Stopwatch.GetTimestamp();
        IReadOnlyList<TResult>? results = null;
        Exception? failure = null;
        // Everything up to the executor's answer inside the try: whatever throws (a logging provider, say), the batch
        // finishes and its callers are answered, or they and a drain would wait for ever.
        try
        {
            _instruments.BatchDispatched(batch.Requests.Length);
            foreach (var request in batch.Requests)
            {
                _instruments.QueueWaited(Stopwatch.GetElapsedTime(request.EnqueuedAt, batch.DispatchedAt));
            }

            BatcherLog.BatchDispatched(_logger, _name, batch.Context.BatchId, batch.Requests.Length, batch.Context.Bucket);
            started = Stopwatch.GetTimestamp();
            results = await _executor(batch.Context, batch.Cancellation.Token).ConfigureAwait(false);
            if (results is null || results.Count != batch.Requests.Length)
            {
                failure = new InvalidOperationException(
                    $"The batch executor returned {(results is null ? "null" : $"{results.Count} results")} for a batch of " +
                    $"{batch.Requests.Length} requests; it must return exactly one result per request, in request order.");
            }
        }
        catch (Exception exception)
        {
            failure = exception;
        }

        FinishBatch(batch, failure is null ? results : null, failure, Stopwatch.GetElapsedTime(started));
    }

    private void FinishBatch(RunningBatch batch, IReadOnlyList<TResult>? results, Exception? failure, TimeSpan elapsed)
    {
        int count = batch.Requests.Length;
        Span<bool> stillWaiting = count <= 256 ? stackalloc bool[count] : new bool[count];
        int waiting = 0;
        lock (_gate)
        {
            for (int i = 0; i < count; i++)
            {
                if (batch.Requests[i].State == RequestState.Dispatched)
                {
                    batch.Requests[i].State = RequestState.Done;
                    stillWaiting[i] = true;
                    waiting++;
                }
            }

            int processed = failure is null ? waiting : 0;
            // A batch nobody waits for any more (every caller cancelled, or a drain gave up on it) did not fail anyone.
            _statistics.BatchFinished(count, elapsed, processed, waiting - processed, failure is not null && waiting > 0, Stopwatch.GetTimestamp());
            _running.Remove(batch);
        }

        try
        {
            AnswerCallers(batch, results, failure, elapsed, stillWaiting, waiting);
        }
        finally
        {
            // Only once its callers have their answers: a drain that sees no batch in flight has answered everyone.
            lock (_gate)
            {
                _inFlight--;
                WakeDispatcher();
            }
        }
    }

    private void AnswerCallers(RunningBatch batch, IReadOnlyList<TResult>? results, Exception? failure, TimeSpan elapsed,
        ReadOnlySpan<bool> stillWaiting, int waiting)
    {
        int count = batch.Requests.Length;

        // Measurements first, so that a caller who sees its result also sees it counted. Whatever they throw (a logging
        // provider), the callers are answered and nothing escapes: this runs on a task nobody awaits.
        try
        {
            _instruments.BatchExecuted(elapsed, failure is null ? waiting : 0, failure is null ? 0 : waiting);
            if (failure is not null && waiting > 0)
            {
                BatcherLog.BatchFailed(_logger, failure, _name, batch.Context.BatchId, count, batch.Context.Bucket,
                    elapsed.TotalMilliseconds, waiting);
            }
        }
        catch (Exception)
        {
            // Nothing to report it to: the logger is what failed.
        }

        for (int i = 0; i < count; i++)
        {
            var request = batch.Requests[i];
            request.ReleaseResources();
            if (!stillWaiting[i])
            {
                continue;
            }

            if (failure is null)
            {
                request.TrySetResult(results![i]);
            }
            else
            {
                request.TrySetException(failure);
            }
        }

        batch.Cancellation.Dispose();
    }

    /// <summary>A drain ran out of time: every request still waiting ends now, and running executors are asked to stop.</summary>
    private void AbandonOutstandingRequests()
    {
        var abandoned = new List<PendingRequest>();
        List<RunningBatch> running;
        int releasedSlots;
        lock (_gate)
        {
            foreach (var queue in _buckets.Values)
            {
                while (queue.Head is not null)
                {
                    abandoned.Add(queue.TakeHead());
                }
            }

            releasedSlots = _queued;
            _queued = 0;
            _buckets.Clear();
            foreach (var batch in _running)
            {
                foreach (var request in batch.Requests)
                {
                    if (request.State == RequestState.Dispatched)
                    {
                        abandoned.Add(request);
                    }
                }

                batch.LiveRequests = 0;
            }

            running = [.. _running];
            foreach (var request in abandoned)
            {
                request.State = RequestState.Done;
            }

            _statistics.Ended(EndReason.Shutdown, abandoned.Count);
            WakeDispatcher();
        }

        if (releasedSlots > 0)
        {
            _queueSlots.Release(releasedSlots);
        }

        _instruments.RequestsEnded(EndReason.Shutdown, abandoned.Count);
        BatcherLog.DrainAbandoned(_logger, _name, abandoned.Count);
        foreach (var request in abandoned)
        {
            request.ReleaseResources();
            request.TrySetException(new OperationCanceledException(
                $"The dynamic batcher '{_name}' shut down before this request's result was ready."));
        }

        foreach (var batch in running)
        {
            batch.CancelExecution();
        }
    }
}
