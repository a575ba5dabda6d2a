namespace NfcPipeline.Inference.Batching;

public sealed partial class DynamicBatcher<TRequest, TResult>
{
    private enum RequestState
    {
        /// <summary>Holds a queue slot but is not yet in a bucket.</summary>
        Created,
        Queued,
        Dispatched,
        Done,
    }

    /// <summary>
    /// A submitted request. It is its own completion source (one allocation per request) and a node of its bucket's
    /// intrusive list, so cancelling a queued request unlinks it in O(1). State changes happen under the batcher's lock.
    /// </summary>
    private sealed class PendingRequest : TaskCompletionSource<TResult>
    {
        private CancellationTokenRegistration _registration;
        private CancellationTokenSource? _deadlineSource;
        private int _released;

        public PendingRequest(DynamicBatcher<TRequest, TResult> owner, TRequest request, ShapeBucket bucket,
            CancellationToken callerToken, TimeSpan? deadline, long submittedAt)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            Owner = owner;
            Request = request;
            Bucket = bucket;
            CallerToken = callerToken;
            Deadline = deadline;
            SubmittedAt = submittedAt;
        }

        public DynamicBatcher<TRequest, TResult> Owner { get; }

        public TRequest Request { get; }

        public ShapeBucket Bucket { get; }

        public CancellationToken CallerToken { get; }

        public TimeSpan? Deadline { get; }

        public long SubmittedAt { get; }

        public long EnqueuedAt { get; set; }

        public RequestState State { get; set; }

        public BucketQueue? Queue { get; set; }

        public PendingRequest? Previous { get; set; }

        public PendingRequest? Next { get; set; }

        public RunningBatch? Batch { get; set; }

        /// <summary>Watches the caller's token and the deadline; a timer exists only for requests with a deadline.</summary>
        public void Arm(TimeSpan? remaining)
        {
            CancellationToken token = CallerToken;
            if (remaining is { } left)
            {
                _deadlineSource = CallerToken.CanBeCanceled
                    ? CancellationTokenSource.CreateLinkedTokenSource(CallerToken)
                    : new CancellationTokenSource();
                _deadlineSource.CancelAfter(left);
                token = _deadlineSource.Token;
            }

            if (token.CanBeCanceled)
            {
                _registration = token.UnsafeRegister(
                    static state => ((PendingRequest)state!).Owner.OnRequestCancelled((PendingRequest)state!), this);
            }
        }

        /// <summary>Stops the deadline timer and unhooks from the caller's token; runs once, outside the lock.</summary>
        public void ReleaseResources()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return;
            }

            _registration.Unregister();
            _deadlineSource?.Dispose();
        }
    }

    /// <summary>The queued requests of one bucket, oldest first.</summary>
    private sealed class BucketQueue(ShapeBucket key)
    {
        public ShapeBucket Key { get; } = key;

        public PendingRequest? Head { get; private set; }

        public int Count { get; private set; }

        private PendingRequest? Tail { get; set; }

        public void Append(PendingRequest request)
        {
            request.Queue = this;
            request.Previous = Tail;
            request.Next = null;
            if (Tail is null)
            {
                Head = request;
            }
            else
            {
                Tail.Next = request;
            }

            Tail = request;
            Count++;
        }

        public PendingRequest TakeHead()
        {
            var head = Head ?? throw new InvalidOperationException("The bucket queue is empty.");
            Remove(head);
            return head;
        }

        public void Remove(PendingRequest request)
        {
            if (request.Previous is null)
            {
                Head = request.Next;
            }
            else
            {
                request.Previous.Next = request.Next;
            }

            if (request.Next is null)
            {
                Tail = request.Previous;
            }
            else
            {
                request.Next.Previous = request.Previous;
            }

            request.Previous = null;
            request.Next = null;
            request.Queue = null;
            Count--;
        }
    }

    /// <summary>A dispatched batch: its requests, the context the executor sees, and the token that can stop it.</summary>
    private sealed class RunningBatch
    {
        public RunningBatch(long batchId, ShapeBucket bucket, PendingRequest[] requests, long dispatchedAt)
        {
            Requests = requests;
            DispatchedAt = dispatchedAt;
            LiveRequests = requests.Length;
            var inputs = new TRequest[requests.Length];
            for (int i = 0; i < requests.Length; i++)
            {
                inputs[i] = requests[i].Request;
            }

            // Read without the lock: Done is never left, and a request seen live a moment late merely runs.
            Context = new BatchContext<TRequest>(bucket, inputs, batchId, i => requests[i].State == RequestState.Done);
        }

        public PendingRequest[] Requests { get; }

        public BatchContext<TRequest> Context { get; }

        public long DispatchedAt { get; }

        /// <summary>Requests whose callers still wait; when it reaches zero the executor's token is cancelled.</summary>
        public int LiveRequests { get; set; }

        public CancellationTokenSource Cancellation { get; } = new();

        public void CancelExecution()
        {
            try
            {
                Cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The batch finished first; nothing left to stop.
            }
        }
    }
}
