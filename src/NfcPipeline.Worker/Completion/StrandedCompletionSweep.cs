using MassTransit;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Analysis;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Completion;

/// <summary>
/// Completes studies whose completion was lost: a registration or chunk whose message failed after its commit, past its
/// retries (the database away for longer than they last), leaves its patients processing with no message left to
/// finish them. Every Worker:StrandedSweepInterval, a study of this worker's model with every image done and nothing
/// changed for Worker:StrandedAfter has its processing patients aggregated and is completed, as its consumer would
/// have. The transitions are idempotent under their locks, so workers sweeping at once complete each study once.
/// </summary>
public sealed class StrandedCompletionSweep(PatientResultsStore patients, CompletionTracker completion, ModelHost model, IBus bus,
    WorkerOptions options, ILogger<StrandedCompletionSweep> logger) : BackgroundService
{
    private const int StudiesPerPass = 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.StrandedSweepInterval);
        while (await timer.NextTickOrStopAsync(stoppingToken))
        {
            if (!model.IsLoaded) continue;
            try
            {
                foreach (var study in await patients.StrandedStudiesAsync(model.ModelId, options.StrandedAfter, StudiesPerPass, stoppingToken))
                {
                    logger.LogWarning("Study {StudyDbId}: every image done for over {Quiet} but {Patients} patient(s) still processing; completing it " +
                        "(its completion was lost after a commit)", study.StudyId, options.StrandedAfter, study.ProcessingPatients.Count);
                    await completion.CompleteStrandedAsync(study, bus, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // An event not published is stored (the outbox publishes it); anything else waits for the next pass.
                logger.LogWarning("Stranded-study sweep stopped for this pass: {Error}", ex.Message);
            }
        }
    }
}
