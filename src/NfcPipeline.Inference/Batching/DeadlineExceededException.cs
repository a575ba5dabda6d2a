namespace NfcPipeline.Inference.Batching;

/// <summary>
/// A request's deadline passed before its result was ready. Derives from <see cref="TimeoutException"/>, so callers
/// may catch either; it is deliberately not an <see cref="OperationCanceledException"/>, which means the caller
/// cancelled.
/// </summary>
public sealed class DeadlineExceededException : TimeoutException
{
    public DeadlineExceededException()
        : base("The request's deadline passed before its result was ready.")
    {
    }

    public DeadlineExceededException(string message)
        : base(message)
    {
    }

    public DeadlineExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DeadlineExceededException(TimeSpan deadline)
        : base($"The request's deadline of {deadline.TotalMilliseconds:0.###} ms passed before its result was ready.")
    {
        Deadline = deadline;
    }

    /// <summary>The deadline the request had, measured from its SubmitAsync call; null when not known.</summary>
    public TimeSpan? Deadline { get; }
}
