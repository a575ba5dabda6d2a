using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Analysis;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Completion;

/// <summary>
/// Completes studies whose completion was lost: a registration or chunk whose message failed after its commit, past its
/// retries (the database away for longer than they last), leaves its patients pending or processing with no message
/// left to finish them. Every Worker:StrandedSweepInterval, a study of this worker's model (or of a model no worker has
/// run for Worker:StrandedAfter) with every image done and nothing changed for Worker:StrandedAfter has those patients
/// aggregated and is completed, as its consumer would have. The transitions are idempotent under their locks, so
/// workers sweeping at once complete each study once. Then completed patients whose review is pending for as long (an
/// exclusion whose request to aggregate them again was lost) are asked to be aggregated again.
/// </summary>
public sealed class StrandedCompletionSweep(PatientResultsStore patients, CompletionTracker completion, ModelHost model, IBus bus,
    WorkerOptions options, ILogger<StrandedCompletionSweep> logger) : BackgroundService
{
    private const int StudiesPerPass = 20;
    private readonly SweepBackoff _backoff = new(options.StrandedSweepInterval, TimeProvider.System);
    private readonly SweepBackoff _reviewBackoff = new(options.StrandedSweepInterval, TimeProvider.System);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.StrandedSweepInterval);
        while (await timer.NextTickOrStopAsync(stoppingToken))
        {
            if (!model.IsLoaded) continue;
            await RequestLostRecomputesAsync(stoppingToken);
            IReadOnlyList<StrandedStudy> stranded;
            var leftOut = _backoff.Waiting();
            try { stranded = await patients.StrandedStudiesAsync(model.ModelId, options.StrandedAfter, StudiesPerPass, stoppingToken, leftOut); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception ex)
            {
                logger.LogWarning("Stranded-study sweep skipped this pass: {Error}", ex.Message);
                continue;
            }
            if (stranded.Count < StudiesPerPass) _backoff.Forget(stranded.Select(s => s.StudyId), leftOut);
            foreach (var study in stranded)
            {
                logger.LogWarning("Study {StudyDbId}: every image done for over {Quiet} but {Patients} patient(s) not completed; completing it " +
                    "(its completion was lost after a commit) from the results of model #{StudyModel}{Whose}", study.StudyId, options.StrandedAfter,
                    study.ProcessingPatients.Count, study.ModelId, study.ModelId == model.ModelId ? "" : ", which no running worker has loaded");
                // One study that cannot be completed (a patient whose aggregation fails) must not hold up the others.
                try
                {
                    await completion.CompleteStrandedAsync(study, bus, stoppingToken);
                    _backoff.Succeeded(study.StudyId);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
                catch (Exception ex) when (DatabaseRetry.IsTransient(ex))
                {
                    // The database away: every study would fail alike, each after a retry budget. The pass stops; this study
                    // alone is backed off, in case the fault was its own (a timeout on a large patient), so that it does not
                    // come first in every pass and keep the sweep from the studies after it.
                    var (_, retryIn) = _backoff.Failed(study.StudyId);
                    logger.LogWarning("The stranded sweep stopped its pass at study {StudyDbId} (tried again in {RetryIn}): {Error}; the database " +
                        "may be away", study.StudyId, retryIn, ex.Message);
                    break;
                }
                catch (Exception ex)
                {
                    // An event not published is stored (the outbox publishes it); anything else is tried again later, less
                    // often each time, so that studies failing every pass do not fill every page of the sweep.
                    var (failures, retryIn) = _backoff.Failed(study.StudyId);
                    logger.Log(failures >= 3 ? LogLevel.Error : LogLevel.Warning, "Study {StudyDbId} not completed by the sweep ({Failures} time(s)): " +
                        "{Error}; tried again in {RetryIn}", study.StudyId, failures, ex.Message, retryIn);
                }
            }
        }
    }

    /// <summary>
    /// Review-pending patients asked to be aggregated again, each less often every time it is still pending (a patient
    /// whose aggregation keeps failing must not be asked every pass). Best effort: the next pass asks again.
    /// </summary>
    private async Task RequestLostRecomputesAsync(CancellationToken ct)
    {
        var leftOut = _reviewBackoff.Waiting();
        try
        {
            var pending = await patients.ReviewPendingPatientsAsync(model.ModelId, options.StrandedAfter, StudiesPerPass, ct, leftOut);
            if (pending.Count < StudiesPerPass) _reviewBackoff.Forget(pending, leftOut);
            foreach (var patient in pending)
            {
                var (times, _) = _reviewBackoff.Failed(patient);
                // Asked again and again: its aggregation fails (the reaggregate-patient_error queue says why).
                logger.Log(times >= 3 ? LogLevel.Error : LogLevel.Warning, "Patient {PatientDbId}: a review changed its fields over {Quiet} ago " +
                    "and its results were not aggregated again since; asking for it ({Times} time(s))", patient, options.StrandedAfter, times);
                using var deadline = options.PublishDeadline(ct);
                await bus.Publish(new ReaggregatePatient(patient, "review-pending sweep"), deadline.Token);
            }
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("Review-pending sweep skipped this pass: {Error}", ex.Message);
        }
    }
}
