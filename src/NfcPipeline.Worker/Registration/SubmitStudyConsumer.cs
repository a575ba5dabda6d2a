using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Intake;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Analysis;
using NfcPipeline.Worker.Completion;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Registration;

/// <summary>Registers a submitted study, queues its work in chunks, and completes the patients (or the study) that need no analysis.</summary>
public sealed class SubmitStudyConsumer(StudyIntake intake, StudyRegistrationStore registrations, ModelHost model,
    WorkPublisher publisher, CompletionTracker completion, DatabaseRetry retry, WorkerOptions options, ILogger<SubmitStudyConsumer> logger)
    : IConsumer<SubmitStudy>
{
    public async Task Consume(ConsumeContext<SubmitStudy> context)
    {
        var ct = context.CancellationToken;
        StudyRegistration registration;
        try { registration = await Task.Run(() => intake.Read(context.Message), ct); }
        catch (StudyLayoutException ex) { throw new InvalidSubmissionException(ex.Message, ex); }

        RegisteredStudy study;
        try
        {
            study = await retry.RunAsync(t => registrations.RegisterAsync(registration, model.ModelId,
                options.MicrometresPerPixelFor(registration.UmPerPx), context.Message.Reanalyze, options.ChunkSize, t), ct);
        }
        catch (StudyConflictException ex) { throw new InvalidSubmissionException(ex.Message, ex); }
        var chunks = study.Chunks;
        await publisher.PublishAsync(chunks, ct);
        logger.LogInformation("Study {StudyDbId} registered: {Patients} patients, {Images} images, {Queued} queued in {Chunks} chunks, {Reused} reused",
            study.StudyId, study.PatientCount, study.ImageCount, study.ImagesToAnalyse.Count, chunks.Count, study.ReusedImages);
        // A count only: the entries' paths hold patient folder names (`nfc analyze` lists them).
        if (registration.SkippedEntries > 0)
            logger.LogWarning("Study {StudyDbId}: {Skipped} entries of its folder not analysed (files not named as images, links out of the share, folders nested too deep)",
                study.StudyId, registration.SkippedEntries);
        await context.Publish(new StudySubmitted(context.Message.StudyId, study.StudyId, study.PatientCount, study.ImageCount, DateTimeOffset.UtcNow), ct);

        // Registration set every patient processing; those with nothing queued (all reused, or only another patient's
        // images changed) are aggregated and completed now, since no chunk will touch them. The study completes here
        // when nothing was queued at all.
        await completion.CompleteStudyAsync(study.StudyId, context, ct);
    }
}

/// <summary>A submission that can never succeed (bad path, no images): not retried; it goes to the _error queue.</summary>
public sealed class InvalidSubmissionException(string message, Exception? inner = null) : Exception(message, inner);
