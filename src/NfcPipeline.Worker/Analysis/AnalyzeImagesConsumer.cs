using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Core.Domain;
using NfcPipeline.Imaging;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Intake;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Completion;
using NfcPipeline.Worker.Hosting;
using NfcPipeline.Worker.Registration;

namespace NfcPipeline.Worker.Analysis;

/// <summary>
/// One chunk: claim the job, analyse its images through the shared batcher, write everything in one transaction,
/// then aggregate finished patients. The message is acked only after the commit (MassTransit acks on return).
/// </summary>
public sealed class AnalyzeImagesConsumer(JobStore jobs, ResultStore results, ModelHost model, CompletionTracker completion,
    DatabaseRetry retry, WorkerIdentity identity, WorkerOptions options, WorkerMetrics metrics, WorkerShutdown shutdown,
    ShareAvailability share, ChunkGate gate, ChunksInFlight inFlight, InferenceStreak streak, ILogger<AnalyzeImagesConsumer> logger)
    : IConsumer<AnalyzeImages>
{
    public async Task Consume(ConsumeContext<AnalyzeImages> context)
    {
        var message = context.Message;
        var ct = context.CancellationToken;
        // JSON's null passes 'required': refused here, or its fault would fail whichever job has that number.
        if (message.ImageIds is null) throw new InvalidWorkException($"The message for job {message.JobId} names no images (ImageIds is null).");
        using var held = inFlight.Enter(message.JobId);
        for (int round = 0; ; round++)
        {
            bool stuckHolder = await WaitWhileRunningElsewhereAsync(message.JobId, ct);
            // The turn first, the start after: a chunk waiting for a lone one is not yet processing under this worker, so
            // a crash the lone chunk causes is not counted against it.
            bool alone = await retry.RunAsync(t => jobs.RunsAloneAsync(message.JobId, identity.Id, options.AliveWithin, t), ct);
            var turn = await gate.EnterAsync(alone, ct);
            // Released whatever throws (the database away past its budget, the stop): a turn kept would hold a lone
            // chunk's wait for an empty gate, and every chunk after it, until the worker restarts.
            try
            {
                // The turn may have been long in coming: another delivery may have started the chunk meanwhile, and is
                // waited for again (once: the wait itself takes a stuck holder's chunk over after Worker:RedeliveryWaitLimit).
                // Not a holder the wait found stuck: it is still "alive", and would be waited for a second time.
                if (round == 0 && !stuckHolder
                    && await retry.RunAsync(t => jobs.HolderHeartbeatAsync(message.JobId, identity.Id, options.AliveWithin, t), ct) is not null)
                    continue;
                await ConsumeInTurnAsync(context, alone, turn);
                return;
            }
            finally { turn.Dispose(); }
        }
    }

    private async Task ConsumeInTurnAsync(ConsumeContext<AnalyzeImages> context, bool alone, IDisposable turn)
    {
        var message = context.Message;
        var ct = context.CancellationToken;
        var start = await retry.RunAsync(t => jobs.StartAsync(message.JobId, identity.Id, options.MaxAbandonedStarts, t, options.AliveWithin,
            (message.StudyDbId, message.ImageIds), message.QueuedAt), ct);
        var clock = Stopwatch.StartNew();   // the chunk's own time (nfc.worker.chunk_duration: claim to commit), not its waits
        if (start is JobStart.Unknown)
            throw new InvalidWorkException($"Job {message.JobId} does not exist, or is not the chunk of study {message.StudyDbId} with the " +
                $"{message.ImageIds.Count} image(s) the message names (a hand-made message, or one from another deployment on this broker?).");
        if (start is JobStart.GivenUp or JobStart.Failed)
        {
            // Given up now (workers kept stopping mid-chunk), or a duplicate of a failed chunk's message, or a retry after
            // its give-up or fault did not finish: its unfinished images fail with the job's reason (idempotent, only this
            // chunk's), so the study completes with errors, and completion runs (again).
            if (start is JobStart.GivenUp)
                logger.LogWarning("Job {JobId} was abandoned by {Max} workers that stopped while analysing it; its images are failed",
                    message.JobId, options.MaxAbandonedStarts);
            else
                logger.LogInformation("Job {JobId} has failed; not started again, failing its unfinished images and re-checking completion", message.JobId);
            var failure = await retry.RunAsync(t => jobs.FailureAsync(message.JobId, t), ct);
            await retry.RunAsync(t => results.FailUnfinishedImagesAsync(message.JobId, message.ImageIds,
                failure.GivenUp ? WorkerStoppedCode : AnalyzeImagesFaultConsumer.ChunkFailedCode,
                failure.GivenUp ? GivenUpError(options.MaxAbandonedStarts) : AnalyzeImagesFaultConsumer.FailedError(failure.Error), t), ct);
            await CompleteChunkPatientsAsync(context, ct);
            return;
        }
        if (start is JobStart.Superseded)
        {
            logger.LogInformation("Job {JobId} was queued again since this message was sent (a requeue, a wait for the share); its newer " +
                "message runs it, and this one is acknowledged without work", message.JobId);
            return;
        }
        if (start is JobStart.Deleted)
        {
            logger.LogInformation("Job {JobId} was deleted; its message is acknowledged without work", message.JobId);
            return;
        }
        if (start is JobStart.AlreadyDone)
        {
            // Committed before, but the ack (or the completion events) may have been lost: completion is idempotent.
            logger.LogInformation("Job {JobId} was already committed; re-checking completion only", message.JobId);
            await CompleteChunkPatientsAsync(context, ct);
            return;
        }

        // The analysis gives up at the worker's stop deadline; the write and the completion run to their end once begun.
        using var analysis = CancellationTokenSource.CreateLinkedTokenSource(ct, shutdown.Deadline);
        var writing = new StrongBox<bool>();
        try
        {
            if (start is JobStart.StartedAlone)
            {
                logger.LogWarning("Job {JobId} was abandoned before by a worker that stopped while analysing it; it runs alone, so that a " +
                    "crash it causes is counted against it only", message.JobId);
                // Abandoned between the check and the start (rare): its turn is taken again, alone.
                if (!alone)
                {
                    turn.Dispose();
                    turn = await gate.EnterAsync(alone: true, analysis.Token);
                }
            }
            try { await AnalyzeChunkAsync(context, clock, analysis.Token, writing); }
            finally { turn.Dispose(); }
        }
        // Only before the write: a completion cut short after the deadline is no cancelled analysis.
        catch (OperationCanceledException) when (shutdown.Deadline.IsCancellationRequested && !ct.IsCancellationRequested && !writing.Value)
        {
            // Worker:StopTimeout has passed and nothing of the chunk was committed: the job goes back to the outbox, so
            // the next worker's outbox pass publishes it again, and this message is acknowledged.
            logger.LogWarning("Job {JobId} was cancelled by the worker's shutdown; it is published again by the next worker", message.JobId);
            await retry.RunAsync(t => jobs.MarkRetryingAsync(message.JobId, identity.Id, "Cancelled when its worker stopped; published again by the next worker.",
                backToOutbox: true, t), CancellationToken.None);
        }
        catch (OperationCanceledException cancelled) when (ct.IsCancellationRequested)
        {
            // MassTransit cancelled it (its own stop): it returns a cancelled message to the queue.
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await jobs.MarkRetryingAsync(message.JobId, identity.Id, "Cancelled when its worker stopped; back in the queue.", backToOutbox: false, cleanup.Token); }
            catch (Exception ex) when (DatabaseRetry.IsTransient(ex) || ex is OperationCanceledException) { }
            // With MassTransit's own token: one carrying the linked analysis token is taken for a fault (ConsumerCanceledException),
            // and without a retry filter (Worker:MessageRetryLimit 0) the fault consumer failed the job.
            throw new OperationCanceledException("The worker is stopping.", cancelled, ct);
        }
    }

    /// <summary>
    /// Completion for every patient of the chunk, not only those a write just touched: a retry after a committed write
    /// whose completion failed touches none, and the patients would wait for ever.
    /// </summary>
    private async Task CompleteChunkPatientsAsync(ConsumeContext<AnalyzeImages> context, CancellationToken ct)
    {
        var patients = await retry.RunAsync(t => results.PatientsOfImagesAsync(context.Message.ImageIds, t), ct);
        await completion.OnChunkRevisitedAsync(context.Message.StudyDbId, patients, context, ct);
    }

    /// <summary>The error code of images whose chunk was given up (docs/messages.md).</summary>
    public const string WorkerStoppedCode = "WorkerStopped";

    private static string GivenUpError(int maxAbandonedStarts) =>
        $"The worker analysing this image's chunk stopped without finishing it {maxAbandonedStarts} times (a crash, or " +
        "killed for memory?); the chunk is not started again. Requeue its job to try again.";

    private async Task AnalyzeChunkAsync(ConsumeContext<AnalyzeImages> context, Stopwatch clock, CancellationToken analysisCt, StrongBox<bool> writing)
    {
        var message = context.Message;
        var ct = context.CancellationToken;
        var images = await retry.RunAsync(t => results.LoadChunkImagesAsync(message.JobId, message.ImageIds, t), analysisCt);
        var existing = message.Reanalyze ? new Dictionary<(string, double), double>()
            : await retry.RunAsync(t => results.ExistingResultsAsync(images.Select(i => (i.Sha256, options.MicrometresPerPixelFor(i.UmPerPx))), model.ModelId, model.SettingsJson, t), analysisCt);
        var stored = images.Select(i => (Image: i, Um: existing.TryGetValue((Convert.ToHexString(i.Sha256), options.MicrometresPerPixelFor(i.UmPerPx)),
            out var um) ? um : (double?)null)).ToList();
        var reused = stored.Where(s => s.Um is not null).Select(s => new ReusedImage(s.Image.ImageId, s.Um!.Value)).ToList();
        var work = stored.Where(s => s.Um is null).Select(s => s.Image).ToList();

        if (work.Count > 0 && await share.ProblemAsync(ct) is { } absent)
        {
            await WaitForShareAsync(message.JobId, absent, ct);
            return;
        }
        // Once for the chunk's reads, and only after the probe: resolving it touches the share, which may hang.
        var realShare = work.Count > 0 ? model.RealShareRoot! : "";
        var outcomes = await Task.WhenAll(work.Select(image => AnalyzeAsync(image, realShare, analysisCt)));
        analysisCt.ThrowIfCancellationRequested();   // a field cut short is not a field analysed
        // A failure whose cause can pass (an NFS hiccup, a remount, the GPU's memory taken for a moment) is tried once
        // more after a pause: committed, it would stand until the study is submitted again.
        if (options.TransientRetryDelay > TimeSpan.Zero && outcomes.Any(o => o.MayPassLater))
        {
            logger.LogInformation("Job {JobId}: {Count} image(s) failed for a cause that can pass; trying them again in {Delay:0.#} s",
                message.JobId, outcomes.Count(o => o.MayPassLater), options.TransientRetryDelay.TotalSeconds);
            await Task.Delay(options.TransientRetryDelay, analysisCt);
            for (int i = 0; i < outcomes.Length; i++)
                if (outcomes[i].MayPassLater) outcomes[i] = await AnalyzeAsync(work[i], realShare, analysisCt);
            analysisCt.ThrowIfCancellationRequested();
        }
        streak.Record(outcomes);
        // A share gone during the analysis fails its files one by one as missing: the chunk waits for it instead.
        if (outcomes.Any(o => !o.Succeeded) && await share.ProblemAsync(ct) is { } gone)
        {
            await WaitForShareAsync(message.JobId, gone, ct);
            return;
        }
        var analysed = new List<AnalysedImage>();
        var failed = new List<FailedImage>();
        foreach (var (image, outcome) in work.Zip(outcomes))
        {
            if (outcome.Succeeded)
                analysed.Add(new AnalysedImage(image.ImageId, image.Sha256, outcome.Analysis!.Instances, outcome.Measurement!,
                    [.. outcome.Analysis.Notes, .. outcome.Measurement!.QualityNotes]));
            else failed.Add(new FailedImage(image.ImageId, outcome.ErrorCode!, outcome.Error!));
        }
        var inferenceTime = clock.Elapsed;
        var chunk = new ChunkResult(message.JobId, model.ModelId, analysed, failed, reused, model.SettingsJson, images);
        var writeClock = Stopwatch.StartNew();
        writing.Value = true;
        var written = await retry.RunAsync(t => results.WriteChunkAsync(chunk, t), ct);
        if (written is null)
        {
            // Failed (given up, or after its retries) or deleted while this worker ran it: its outcome stands.
            logger.LogWarning("Job {JobId} failed or was deleted while it was analysed; its results were not stored (requeue it to store them)",
                message.JobId);
            return;
        }
        if (written.Stored)
        {
            metrics.ChunkWritten(analysed.Count, failed.Count, writeClock.Elapsed, clock.Elapsed);
            logger.LogInformation("Job {JobId}: {Analysed} analysed, {Failed} failed, {Reused} reused in {Seconds:0.0} s (write {WriteMs:0} ms)",
                message.JobId, analysed.Count, failed.Count, reused.Count, inferenceTime.TotalSeconds, writeClock.Elapsed.TotalMilliseconds);
        }
        else
            logger.LogInformation("Job {JobId} was already written (another delivery of its message, or this write's retry); " +
                "these results were not stored, completion is checked again", message.JobId);

        // Before completion, which may throw: its redelivery finds the chunk written and names no sharing patients.
        if (written.SharingPatients is { Count: > 0 } sharing) await ReaggregateSharingAsync(message.JobId, sharing, context, ct);
        if (written.Stored) await completion.OnChunkCommittedAsync(written.Patients, context, ct);
        else await completion.OnChunkRevisitedAsync(message.StudyDbId, written.Patients, context, ct);
    }

    /// <summary>
    /// Patients elsewhere aggregated from a result this chunk replaced are aggregated again, by the consumer a review's
    /// recompute goes through: their image results now show the new one. Best effort: a failed publish leaves them as
    /// they were (their study's resubmission, or "Recompute now", aggregates them), and fails nothing here.
    /// </summary>
    private async Task ReaggregateSharingAsync(long jobId, IReadOnlyList<long> sharing, ConsumeContext context, CancellationToken ct)
    {
        logger.LogInformation("Job {JobId} replaced results that {Count} patient(s) elsewhere were aggregated from; they are aggregated again",
            jobId, sharing.Count);
        // Bounded as every other publish here: a broker that stalls (a memory alarm) must not hold this delivery, its
        // turn and its own patients' completion until the ack timeout closes the channel.
        using var deadline = options.PublishDeadline(ct);
        try
        {
            foreach (var patient in sharing) await context.Publish(new ReaggregatePatient(patient, null), deadline.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            logger.LogWarning("Job {JobId}: patients sharing its replaced results not queued to aggregate again: {Error}", jobId, ex.Message);
        }
    }

    /// <summary>
    /// Nothing of the chunk is stored and none of its images fails: the job goes back to the outbox, which publishes it
    /// again once the share is back (no sooner than Worker:RepublishAfter). The message is acknowledged.
    /// </summary>
    private async Task WaitForShareAsync(long jobId, string problem, CancellationToken ct)
    {
        logger.LogDebug("Job {JobId} waits for the share: {Problem}", jobId, problem);
        await retry.RunAsync(t => jobs.MarkRetryingAsync(jobId, identity.Id, $"Waiting for the share: {problem}.", backToOutbox: true, t,
            republishLater: true), ct);
    }

    /// <summary>
    /// A redelivery of a job still processing under another worker (the broker's ack timeout, a lost channel) waits while
    /// that worker is alive, its heartbeat moving on within the window that worker recorded (its alive_within, four of
    /// its heartbeat intervals; a worker is judged by its own, not by this one's): counting it as an abandoned start gave
    /// up live work. Once the job leaves processing the start finds it done (completion is checked again) or failed; once
    /// the heartbeat stops, that worker died mid-chunk and the start is an abandoned one. A crash's redelivery, whose
    /// worker's last heartbeat is still recent, pays one such wait. A holder alive but holding the chunk for longer than
    /// Worker:RedeliveryWaitLimit since it started it is stuck (a hung run or read): the delivery stops waiting and runs it,
    /// and says so (true). Counted from the holder's start, not from this delivery: a redelivery after the broker's ack
    /// timeout (30 min) would otherwise wait the whole limit again, and another one after it.
    /// </summary>
    private async Task<bool> WaitWhileRunningElsewhereAsync(long jobId, CancellationToken ct)
    {
        var fallback = options.AliveWithin;   // for a holder that recorded no window of its own
        if (await retry.RunAsync(t => jobs.HolderHeartbeatAsync(jobId, identity.Id, fallback, t), ct) is not (var seen, var interval, var held))
            return false;
        if (Stuck(jobId, held)) return true;
        logger.LogInformation("Job {JobId} is processing under another worker; this delivery waits while that worker is alive", jobId);
        while (true)
        {
            await Task.Delay(interval + TimeSpan.FromSeconds(1), ct);
            if (await retry.RunAsync(t => jobs.HolderHeartbeatAsync(jobId, identity.Id, fallback, t), ct) is not (var later, var window, var heldNow)
                || later <= seen) return false;
            (seen, interval) = (later, window);
            if (Stuck(jobId, heldNow)) return true;
        }
    }

    private bool Stuck(long jobId, TimeSpan heldFor)
    {
        if (heldFor < options.RedeliveryWaitLimit) return false;
        logger.LogWarning("Job {JobId} has been processing under another live worker for {Held:hh\\:mm\\:ss} (Worker:RedeliveryWaitLimit " +
            "{Limit}): taking it over, as stuck", jobId, heldFor, options.RedeliveryWaitLimit);
        return true;
    }

    private async Task<FieldOutcome> AnalyzeAsync(ChunkImage image, string realShare, CancellationToken ct)
    {
        string path;
        var relative = image.SourcePath is { Length: > 0 } folder ? $"{folder}/{image.RelPath}" : image.RelPath;
        try
        {
            path = SharePaths.ResolveUnder(options.ShareRoot ?? throw new StudyLayoutException("Worker:ShareRoot is not configured."), relative);
        }
        catch (StudyLayoutException ex)
        {
            // Stored and shown beside the image: its path names the patient's folder, which the reason must not.
            // A file missing may be back in a moment (a remount, a copy replacing it); a path refused stays refused.
            return FieldOutcome.Failed("NotInShare", ex.Message.Replace($"'{relative}'", "the image's file"), mayPassLater: ex.Missing);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Following the path's links failed on the file system (a permission changed, an I/O error, a loop): this
            // image alone, not the chunk, and without the system's message, which quotes the patient's folder.
            return FieldOutcome.Failed("Unreadable", ex is UnauthorizedAccessException
                ? "the image's path cannot be followed: permission denied"
                : "the image's path cannot be followed: an I/O error or a loop of links",
                mayPassLater: ex is not UnauthorizedAccessException);   // a permission refused stays so, as at the file's open
        }
        var calibration = new Calibration(options.MicrometresPerPixelFor(image.UmPerPx));
        // Results are stored under the content hash taken at registration: a file replaced since then would file the
        // new content's results under the old content (and a later study holding the old content would reuse them).
        // Hashed and decoded from one read, so a file replaced between a check and a second read cannot slip through.
        return await model.Fields.AnalyzeContentAsync(path, (maxBytes, t) => ReadCheckedAsync(path, realShare, image.Sha256, image.RelPath, maxBytes, t),
            calibration, ct);
    }

    private const string Changed = "The file changed after the study was registered; submit the study again to analyse its current content.";
    private const string UnreadAtRegistration = "The file was not read when the study was registered (unreadable or too large then); " +
        "submit the study again to analyse it as it is now.";

    /// <summary>
    /// The file's content when it hashes as registered. A file that cannot be opened fails with the reason (a folder or
    /// FIFO named as such): it is not opened a second time, whose bytes would go unchecked.
    /// </summary>
    private static async Task<byte[]> ReadCheckedAsync(string path, string realShare, byte[] registered, string relPath, long maxBytes, CancellationToken ct)
    {
        FileStream stream;
        try { stream = SharePaths.OpenInside(path, realShare); }
        catch (Exception ex) when ((ex is IOException or UnauthorizedAccessException) && ImageDecoder.NotAFile(path) is { } notAFile)
        {
            throw notAFile;
        }
        await using (stream)
        {
            if (stream.Length > Math.Min(maxBytes, Array.MaxLength))
                throw new ImageDecodeException(ImageDecodeError.TooLarge, $"the file is {stream.Length} bytes, over the {maxBytes}-byte limit");
            var content = GC.AllocateUninitializedArray<byte>((int)stream.Length);
            // A file that shrinks while read ends early; one that grows hashes as another content: either way it changed.
            try { await stream.ReadExactlyAsync(content, ct); }
            catch (EndOfStreamException) { throw new ContentChangedException(Changed); }
            if (!SHA256.HashData(content).AsSpan().SequenceEqual(registered))
                throw new ContentChangedException(registered.AsSpan().SequenceEqual(StudyIntake.StandInSha256(relPath)) ? UnreadAtRegistration : Changed);
            return content;
        }
    }
}

/// <summary>A work message that refers to nothing that exists: not retried; it goes to the _error queue.</summary>
public sealed class InvalidWorkException(string message) : Exception(message);
