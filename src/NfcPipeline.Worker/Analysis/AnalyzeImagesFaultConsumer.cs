using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Completion;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Analysis;

/// <summary>
/// When a chunk's retries are exhausted (its message is in the _error queue), its job shows failed with the reason and
/// its images not finished fail with it, so the study completes with errors instead of waiting for them for ever.
/// </summary>
public sealed class AnalyzeImagesFaultConsumer(ResultStore results, CompletionTracker completion, DatabaseRetry retry,
    ILogger<AnalyzeImagesFaultConsumer> logger) : IConsumer<Fault<AnalyzeImages>>
{
    /// <summary>The error code of images whose chunk failed after its retries (docs/messages.md).</summary>
    public const string ChunkFailedCode = "ChunkFailed";

    public static string FailedError(string summary) => $"The image's chunk failed after its retries ({summary}); requeue its job to try again.";

    private static string? FaultedBy(HostInfo? host) =>
        host is { MachineName: { Length: > 0 } machine, ProcessId: > 0 } ? WorkerIdentity.ProcessPrefix(machine, host.ProcessId) : null;

    public async Task Consume(ConsumeContext<Fault<AnalyzeImages>> context)
    {
        var chunk = context.Message.Message;
        var exception = context.Message.Exceptions.FirstOrDefault();
        var summary = exception is null ? "failed" : $"{exception.ExceptionType}: {exception.Message}";
        if (chunk.ImageIds is null || context.Message.Exceptions.Any(e => e.ExceptionType == typeof(InvalidWorkException).FullName))
        {
            // The message named no chunk of this database: failing the job of that number would fail another chunk.
            logger.LogWarning("A message for job {JobId} was refused ({Error}); the job is left as it is", chunk.JobId, summary);
            return;
        }
        logger.LogWarning("Job {JobId} failed after retries: {Error}", chunk.JobId, summary);
        // A late fault of an attempt before an operator's requeue leaves the job (and so its images) as requeued.
        // The job and its images in one transaction: failed apart, an outage between them left the study processing.
        await retry.RunAsync(t => results.FailUnfinishedImagesAsync(chunk.JobId, chunk.ImageIds, ChunkFailedCode, FailedError(summary), t,
            new ChunkFault(summary, context.Message.Timestamp, chunk.QueuedAt, FaultedBy(context.Message.Host))), context.CancellationToken);
        // Every patient of the chunk, not only those failed just now: a redelivered fault whose first completion threw
        // finds the images failed already, and their patients would wait for ever.
        var patients = await retry.RunAsync(t => results.PatientsOfImagesAsync(chunk.ImageIds, t), context.CancellationToken);
        await completion.OnChunkRevisitedAsync(chunk.StudyDbId, patients, context, context.CancellationToken);
    }
}
