using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Storage.Share;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Registration;

/// <summary>
/// A submission of a share folder that failed after its retries (a database outage longer than them, a statement
/// timeout) is noted as refused, so the share watcher submits the folder again on its refusal schedule: its fingerprint
/// was recorded at the publish, and unchanged it would never be submitted again.
/// </summary>
public sealed class SubmitStudyFaultConsumer(ShareScanStore shareNotes, StudyRegistrationStore registrations, DatabaseRetry retry,
    WorkerOptions options, ILogger<SubmitStudyFaultConsumer> logger) : IConsumer<Fault<SubmitStudy>>
{
    public async Task Consume(ConsumeContext<Fault<SubmitStudy>> context)
    {
        // A refusal was noted with its own reason when it was made.
        if (context.Message.Exceptions.Any(e => e.ExceptionType == typeof(InvalidSubmissionException).FullName)) return;
        if (SubmitStudyConsumer.ShareFolder(context.Message.Message, options) is not var (root, folder)) return;
        // Registered, and failed after (its announcement, a patient's completion): the study stands, nothing to retry.
        if (context.Message.FaultedMessageId is { } submission && await retry.RunAsync(t =>
                registrations.EarlierRegistrationAsync(submission, context.Message.Message.StudyId, t), context.CancellationToken) is not null)
            return;
        var exception = context.Message.Exceptions.FirstOrDefault();
        var summary = exception is null ? "failed" : $"{exception.ExceptionType}: {exception.Message}";
        logger.LogWarning("A study submission from the share failed after its retries ({Error}); the share watcher submits its folder again later", summary);
        var reason = $"Its registration failed after its retries ({summary}); the folder is submitted again later.";
        await retry.RunAsync(t => shareNotes.RecordRegistrationRefusalAsync(root, folder, reason, t, context.Message.Message.StudyId), context.CancellationToken);
    }
}
