using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Intake;
using NfcPipeline.Intake.Share;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Storage.Share;
using NfcPipeline.Worker.Analysis;
using NfcPipeline.Worker.Completion;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Registration;

/// <summary>Registers a submitted study, queues its work in chunks, and completes the patients (or the study) that need no analysis.</summary>
public sealed class SubmitStudyConsumer(StudyIntake intake, StudyRegistrationStore registrations, ModelHost model,
    WorkPublisher publisher, CompletionEventPublisher events, CompletionTracker completion, DatabaseRetry retry, WorkerOptions options,
    ShareScanStore shareNotes, ShareAvailability share, Microsoft.Extensions.Options.IOptions<Share.ShareWatcherOptions> shareSettings,
    ILogger<SubmitStudyConsumer> logger)
    : IConsumer<SubmitStudy>
{
    public async Task Consume(ConsumeContext<SubmitStudy> context)
    {
        var ct = context.CancellationToken;
        var (study, skippedEntries, unchangedFiles) = await RegisterOnceAsync(context, ct);
        // First, well inside its claim's lease (a slow chunk publish before it let an outbox pass send it too), and ahead
        // of the chunks' PatientCompleted events. Stored with the registration (a redelivery has none to send): one the
        // broker does not take goes out with the outbox, and the registration goes on.
        bool announcedFailed = false;
        if (study.Announcement is { } announcement)
        {
            try { await events.PublishAsync([announcement], context, ct); }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                announcedFailed = true;
                logger.LogWarning(ex, "Study {StudyDbId}: its StudySubmitted was not published (or its publish not recorded); the outbox publishes it",
                    study.StudyId);
            }
        }
        var chunks = study.Chunks;
        try { await publisher.PublishAsync(chunks, ct); }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Committed, so not lost: the outbox pass publishes them once the broker confirms again.
            logger.LogWarning("Study {StudyDbId}: the broker did not confirm its {Count} chunk jobs within {Timeout}; the outbox publishes them",
                study.StudyId, chunks.Count, options.RepublishAfter);
        }
        catch (MassTransitException ex) when (!ct.IsCancellationRequested)
        {
            // Returned for want of a queue (a broker reset under the worker), or refused: committed, so left to the outbox.
            logger.LogWarning("Study {StudyDbId}: {Count} chunk jobs were not taken by the broker ({Error}); the outbox publishes them",
                study.StudyId, chunks.Count, ex.Message);
        }
        if (ShareFolder(context.Message, options) is var (root, folder))
        {
            // Best effort, after the work is out, whatever goes wrong (a statement timeout too): a committed registration
            // must not fault, be retried and skip its completion below. Only a note from before this message registered:
            // a redelivery (an old message moved back from its error queue) leaves a newer submission's refusal.
            try { await shareNotes.ClearRegistrationRefusalAsync(root, folder, ct, context.MessageId); }
            catch (Exception ex) when (ex is not OperationCanceledException) { logger.LogWarning("The folder's refusal note was not cleared: {Error}", ex.Message); }
        }
        if (study.Redelivered)
            logger.LogInformation("Study {StudyDbId}: this submission was registered before (its message delivered again, or a retry after its " +
                "commit); nothing registered or queued again, and chunks not yet published go out with the outbox",
                study.StudyId);
        else
            logger.LogInformation("Study {StudyDbId} registered: {Patients} patients, {Images} images ({Unchanged} unchanged since the last " +
                "registration, not read again), {Queued} queued in {Chunks} chunks, {Reused} reused",
                study.StudyId, study.PatientCount, study.ImageCount, unchangedFiles, study.ImagesToAnalyse.Count, chunks.Count, study.ReusedImages);
        if (study.KeptCalibration is { } kept)
            logger.LogInformation("Study {StudyDbId}: this submission gives no calibration; the {UmPerPx} µm/px given with an earlier one holds " +
                "(until one is given again, or study.json's own calibration changes)", study.StudyId, kept);
        // A count only: the entries' paths hold patient folder names (`nfc analyze` lists them).
        if (skippedEntries > 0)
            logger.LogWarning("Study {StudyDbId}: {Skipped} entries of its folder not analysed (files not named as images, links out of the share, folders nested too deep)",
                study.StudyId, skippedEntries);
        // Registration set every patient processing; those with nothing queued (all reused, or only another patient's
        // images changed) are aggregated and completed now, since no chunk will touch them. The study completes here
        // when nothing was queued at all. A redelivery to a worker of another model leaves that to the study's own
        // (and the stranded-study sweep): aggregated here, every field would lack this model's result.
        if (study.Redelivered && study.ModelId != model.ModelId)
        {
            logger.LogInformation("Study {StudyDbId} is analysed with model #{StudyModel}, this worker runs model #{WorkerModel}: its completion is " +
                "left to that model's workers", study.StudyId, study.ModelId, model.ModelId);
            return;
        }
        // An event the broker refuses is left to the outbox; after a refused announcement, without trying it again.
        await completion.CompleteStudyAsync(study.StudyId, context, ct, brokerFailed: announcedFailed);
    }

    /// <summary>
    /// The study as this submission registered it, with the folder's entries not analysed. A redelivery (the same message)
    /// registered before reads no file and registers nothing.
    /// </summary>
    private async Task<(RegisteredStudy Study, int SkippedEntries, int UnchangedFiles)> RegisterOnceAsync(ConsumeContext<SubmitStudy> context, CancellationToken ct)
    {
        if (context.MessageId is { } messageId && await retry.RunAsync(t => registrations.EarlierRegistrationAsync(messageId, context.Message.StudyId, t), ct) is { } earlier)
            return (earlier, 0, 0);
        // Only a hand-written envelope lacks one: its redelivery cannot be told from a new submission.
        if (context.MessageId is null)
            logger.LogWarning("A SubmitStudy without a messageId: should it be delivered again, it is registered again; give the envelope one");
        // The message's own faults first: refused at once, with their reason, whether or not the share is there.
        try { intake.CheckMessage(context.Message); }
        catch (StudyLayoutException ex) { throw await RefusedAsync(context.Message, ex.Message, ex, ct); }
        // A share that is away (unmounted, renamed, a hung mount) would refuse the folder for good as missing, or hold this
        // consumer for as long as the mount hangs: the submission is retried instead, and past its retries noted as failed,
        // so the watcher submits the folder again later.
        if (await share.ProblemAsync(ct) is { } away)
            throw new ShareUnavailableException($"The share is not available: {away}");
        StudyRegistration registration;
        // A copy still running while the files were hashed (StudyFolderChangingException) is read again at the message's
        // retries; past them, the fault notes a refusal and the watcher submits the folder again later.
        // On a thread of its own: a mount that hangs after the check above (its root's attributes still cached) would hold
        // this consumer until it came back; a read that stands still for Share:StallTimeout is left behind and retried.
        var stall = shareSettings.Value.StallTimeout;
        // A reanalysis reads every file again; otherwise a file unchanged in size and time since the last registration keeps its hash.
        var known = context.Message.Reanalyze ? KnownFiles.None
            : await retry.RunAsync(t => registrations.KnownFilesAsync(context.Message.StudyId, t), ct);
        try { registration = await StallGuard.RunAsync((progress, token) => intake.ReadUnchanged(context.Message, token, progress, known), stall, TimeProvider.System, ct); }
        catch (StudyLayoutException ex) { throw await RefusedAsync(context.Message, ex.Message, ex, ct); }
        catch (TimeoutException) { throw new ShareUnavailableException($"The share stopped answering for {stall} while the study was read (a hung network mount?)"); }
        try
        {
            var study = await retry.RunAsync(t => registrations.RegisterAsync(registration, model.ModelId,
                options.MicrometresPerPixelFor(registration.UmPerPx), context.Message.Reanalyze, options.ChunkSize, model.SettingsJson, t,
                context.MessageId, RegisteredFolderGone), ct);
            return (study, registration.SkippedEntries, registration.UnchangedFiles);
        }
        catch (StudyConflictException ex) { throw await RefusedAsync(context.Message, ex.Message, ex, ct); }
    }

    /// <summary>
    /// A study's registered folder has left the share (renamed or moved): the submitted folder takes it over. Asked
    /// inside the registration's transaction, under the study's lock: a share that does not answer (a hard NFS mount)
    /// is given <see cref="ShareAvailability.ProbeTimeout"/> and then taken for not gone, rather than hold the lock,
    /// and every chunk write of the study queued behind it, for as long as it hangs.
    /// </summary>
    private bool RegisteredFolderGone(string registeredFrom)
    {
        if (options.ShareRoot is not { Length: > 0 } root) return false;
        var gone = Task.Run(() => SharePaths.FolderGone(root, registeredFrom));
        if (!gone.Wait(ShareAvailability.ProbeTimeout))
        {
            logger.LogWarning("The share did not answer within {Seconds:0} s whether the study's registered folder is still there; taken as there",
                ShareAvailability.ProbeTimeout.TotalSeconds);
            return false;
        }
        if (!gone.Result) return false;   // FolderGone catches the share's errors itself
        logger.LogInformation("The study's registered folder is no longer in the share (renamed or moved); the submitted folder takes the study over");
        return true;
    }

    /// <summary>
    /// The share folder a submission names, keyed as the share watcher that submitted it keys it (its root may be another
    /// path to the share than this worker's); null for a list of images or no share.
    /// </summary>
    internal static (string Root, string Folder)? ShareFolder(SubmitStudy message, WorkerOptions options) =>
        message.FolderPath is { Length: > 0 } folder && options.ShareRoot is { Length: > 0 } root
            ? (message.ShareRootKey is { Length: > 0 } key && ShareRootKeyIsUsable(key) ? key : Share.ShareWatcherService.NormaliseRoot(root), folder.Trim('/'))
            : null;

    /// <summary>A key a note can be stored under (StudyIntake.CheckMessage refuses a message with any other).</summary>
    internal static bool ShareRootKeyIsUsable(string key) => key.Length <= 4096 && !key.Any(char.IsControl);

    /// <summary>
    /// A refused submission of a share folder is noted beside the share's scan notes (the dashboard's share page), so the
    /// operator sees why the folder is not analysed, and the watcher submits it again on its refusal schedule: the
    /// message itself goes to the _error queue. A refusal that could not be noted is retried as a failure instead: with
    /// neither a note nor a fault, its unchanged folder would never be submitted again.
    /// </summary>
    private async Task<Exception> RefusedAsync(SubmitStudy message, string reason, Exception inner, CancellationToken ct)
    {
        if (ShareFolder(message, options) is var (root, folder))
        {
            try { await retry.RunAsync(t => shareNotes.RecordRegistrationRefusalAsync(root, folder, reason, t, message.StudyId), ct); }
            catch (Exception ex) when (DatabaseRetry.IsTransient(ex))
            {
                logger.LogWarning("The refusal was not noted: {Error}; the submission is retried", ex.Message);
                return new RefusalNotNotedException(reason, ex);
            }
        }
        return new InvalidSubmissionException(reason, inner);
    }
}

/// <summary>
/// A submission refused whose refusal could not be noted (the database away): retried, and, failing after its retries,
/// noted by <see cref="SubmitStudyFaultConsumer"/> once the database is back.
/// </summary>
public sealed class RefusalNotNotedException(string reason, Exception inner)
    : Exception($"Refused ({reason}), and the refusal could not be noted: {inner.Message}", inner);

/// <summary>A submission that can never succeed (bad path, no images): not retried; it goes to the _error queue.</summary>
public sealed class InvalidSubmissionException(string message, Exception? inner = null) : Exception(message, inner);
