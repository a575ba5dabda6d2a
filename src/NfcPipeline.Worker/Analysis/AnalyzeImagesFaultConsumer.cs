using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Analysis;

/// <summary>When a chunk's retries are exhausted (its message is in the _error queue), its job shows failed with the reason.</summary>
public sealed class AnalyzeImagesFaultConsumer(JobStore jobs, DatabaseRetry retry, ILogger<AnalyzeImagesFaultConsumer> logger) : IConsumer<Fault<AnalyzeImages>>
{
    public async Task Consume(ConsumeContext<Fault<AnalyzeImages>> context)
    {
        var exception = context.Message.Exceptions.FirstOrDefault();
        var summary = exception is null ? "failed" : $"{exception.ExceptionType}: {exception.Message}";
        logger.LogWarning("Job {JobId} failed after retries: {Error}", context.Message.Message.JobId, summary);
        await retry.RunAsync(t => jobs.MarkFailedAsync(context.Message.Message.JobId, summary, t), context.CancellationToken);
    }
}
