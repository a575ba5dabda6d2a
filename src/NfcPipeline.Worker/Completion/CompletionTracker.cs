using MassTransit;
using NfcPipeline.Contracts;
using System.Text.Json;
using NfcPipeline.Core.Aggregation;
using NfcPipeline.Core.Options;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Analysis;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker.Completion;

/// <summary>
/// After a chunk commits: aggregates each touched patient whose last image is done, then completes the study when its
/// last patient is. Each transition stores its event (the completion events' outbox); the worker that made it
/// publishes it, and an outbox pass publishes one whose publish failed (OutboxDispatcher): at least once.
/// </summary>
public sealed class CompletionTracker(PatientResultsStore patients, CompletionEventPublisher publisher, ModelHost model, DatabaseRetry retry,
    ILogger<CompletionTracker> logger)
{
    public Task OnChunkCommittedAsync(IReadOnlyList<long> touchedPatients, IPublishEndpoint bus, CancellationToken ct) =>
        CompleteAsync(touchedPatients, null, model.ModelId, new PatientAggregator(model.Analysis), model.SettingsJson, bus, new Announcer(), ct);

    /// <summary>
    /// For a study with nothing left to analyse (everything reused): aggregate all its patients, then complete it.
    /// <paramref name="brokerFailed"/>: the registration's own publish failed already, so its events go to the outbox
    /// unpublished rather than each waiting out a publish timeout.
    /// </summary>
    public async Task CompleteStudyAsync(long studyId, IPublishEndpoint bus, CancellationToken ct, bool brokerFailed = false)
    {
        var all = await retry.RunAsync(t => patients.PatientsOfStudyAsync(studyId, t), ct);
        await CompleteAsync(all, studyId, model.ModelId, new PatientAggregator(model.Analysis), model.SettingsJson, bus,
            new Announcer { BrokerFailed = brokerFailed }, ct);
    }

    /// <summary>
    /// A stranded study (see StrandedCompletionSweep): its processing patients aggregated from its own model's results,
    /// then the study completed. Another model's study is aggregated under the settings its results were analysed
    /// with, and its patients' results are named by them, not by this worker's model and settings.
    /// </summary>
    public async Task CompleteStrandedAsync(StrandedStudy study, IPublishEndpoint bus, CancellationToken ct)
    {
        var (aggregator, settings) = await PolicyOfAsync(study.StudyId, study.ModelId, ct);
        await CompleteAsync(study.ProcessingPatients, study.StudyId, study.ModelId, aggregator, settings, bus, new Announcer(), ct);
    }

    /// <summary>
    /// A chunk's patients looked at again without this worker storing their results (a redelivery of a chunk committed
    /// before, a duplicate, a failed or given-up chunk): aggregated under the study's own model, as a stranded study is.
    /// Under this worker's, a redelivery reaching a worker with another model (a rolling model change) made the
    /// patient's result that model's, from none of its fields, and completed the study on it.
    /// </summary>
    public async Task OnChunkRevisitedAsync(long studyId, IReadOnlyList<long> touchedPatients, IPublishEndpoint bus, CancellationToken ct)
    {
        var studyModel = await retry.RunAsync(t => patients.StudyModelAsync(studyId, t), ct) ?? model.ModelId;
        var (aggregator, settings) = await PolicyOfAsync(studyId, studyModel, ct);
        await CompleteAsync(touchedPatients, null, studyModel, aggregator, settings, bus, new Announcer(), ct);
    }

    /// <summary>This worker's policy for its own model; another model's study is aggregated under the settings its results were analysed with.</summary>
    private async Task<(PatientAggregator Aggregator, string Settings)> PolicyOfAsync(long studyId, long studyModel, CancellationToken ct) =>
        studyModel != model.ModelId && await retry.RunAsync(t => patients.AnalysisSettingsAsync(studyId, studyModel, t), ct) is { } stored
            ? (AggregatorFor(stored), stored)
            : (new PatientAggregator(model.Analysis), model.SettingsJson);

    /// <summary>Aggregates each patient whose last image is done, then completes their studies (and <paramref name="study"/>).</summary>
    private async Task CompleteAsync(IReadOnlyList<long> touchedPatients, long? study, long modelId, PatientAggregator aggregator, string settings,
        IPublishEndpoint bus, Announcer announcer, CancellationToken ct)
    {
        var studies = new HashSet<long>();
        if (study is { } given) studies.Add(given);
        Exception? firstFailure = null;
        foreach (var patientId in touchedPatients)
        {
            PatientOutcome? outcome;
            try { outcome = await retry.RunAsync(t => patients.AggregateIfDoneAsync(patientId, modelId, aggregator, settings, t), ct); }
            // The database away past the retry budget fails the next patient alike: thrown at once, not after a budget
            // per patient (a study's hundred patients held its delivery past the broker's consumer timeout).
            catch (Exception ex) when (ex is not OperationCanceledException && !DatabaseRetry.IsTransient(ex))
            {
                // One patient that cannot be aggregated must not keep the chunk's other patients, and their study, from
                // completing. Thrown after them, so the message is retried (and then faulted) for this one.
                logger.LogError(ex, "Patient {PatientDbId} could not be aggregated", patientId);
                firstFailure ??= ex;
                continue;
            }
            if (outcome is null) continue;
            studies.Add(outcome.StudyId);
            await ReaggregateOtherResultsBehindReviewAsync(patientId, modelId, ct);
            if (outcome.Event is { } completed)
            {
                logger.LogInformation("Patient {PatientDbId} of study {StudyDbId} aggregated: {Pattern}", outcome.PatientId, outcome.StudyId, outcome.Pattern);
                await PublishStoredAsync(completed, bus, announcer, ct);
            }
        }
        foreach (var studyId in studies) await CompleteIfDoneAsync(studyId, bus, announcer, ct);
        if (firstFailure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(firstFailure);
    }

    /// <summary>
    /// A patient aggregated again from its stored results, for every model it has results of, each under the fast-track
    /// settings its result was computed with: no detector runs, so any worker can, whatever model it loaded. A patient
    /// still being analysed is left to its last chunk.
    /// </summary>
    public async Task ReaggregateAsync(long patientId, IPublishEndpoint bus, CancellationToken ct)
    {
        // Left processing with no result under its study's model (a completion lost after a model change): that model
        // completes it, as the stranded sweep would; the first result listed, another model's, completed and announced it.
        if (await retry.RunAsync(t => patients.UnaggregatedStudyAsync(patientId, t), ct) is { } studyId)
            await OnChunkRevisitedAsync(studyId, [patientId], bus, ct);
        var results = await retry.RunAsync(t => patients.ResultModelsAsync(patientId, t), ct);
        var announcer = new Announcer();
        if (results.Count == 0)
            logger.LogInformation("Patient {PatientDbId} has no results yet (or no longer exists); it is aggregated when its last image is done", patientId);
        foreach (var (modelId, settings) in results)
        {
            var rules = FastTrackOf(settings);
            if (rules is null)
                logger.LogWarning("Patient {PatientDbId}: the result of model #{ModelId} does not record its fast-track rules; aggregated again " +
                    "under this worker's", patientId, modelId);
            var aggregator = AggregatorFor(settings);
            var outcome = await retry.RunAsync(t => patients.AggregateIfDoneAsync(patientId, modelId, aggregator, settings, t), ct);
            if (outcome is null)
            {
                logger.LogInformation("Patient {PatientDbId} is still being analysed; it is aggregated when its last image is done", patientId);
                continue;
            }
            logger.LogInformation("Patient {PatientDbId} aggregated again for model #{ModelId}: {Pattern}", patientId, modelId, outcome.Pattern);
            // A patient left processing (its completion lost) completes here, announced as the last chunk would have;
            // its study is looked at even when the patient had completed (a retry of this message after a failure).
            if (outcome.Event is { } completed) await PublishStoredAsync(completed, bus, announcer, ct);
            await CompleteIfDoneAsync(outcome.StudyId, bus, announcer, ct);
        }
    }

    /// <summary>
    /// A review made while the patient was being analysed again reached only the analysing model's result (the others
    /// answered "still being analysed"): the patient's other results, kept with its images unchanged, take it now. Best
    /// effort: a failure leaves them marked review_pending, for "Recompute now".
    /// </summary>
    private async Task ReaggregateOtherResultsBehindReviewAsync(long patientId, long modelId, CancellationToken ct)
    {
        try
        {
            foreach (var (other, settings) in await retry.RunAsync(t => patients.OtherResultsBehindReviewAsync(patientId, modelId, t), ct))
            {
                var aggregator = AggregatorFor(settings);
                await retry.RunAsync(t => patients.AggregateIfDoneAsync(patientId, other, aggregator, settings, t), ct);
                logger.LogInformation("Patient {PatientDbId}: the result of model #{ModelId} aggregated again for a review made meanwhile", patientId, other);
            }
        }
        // The database away past the retry budget is thrown, as the aggregation's own: swallowed, the next step spent a
        // budget of its own, and a delivery more than the ack timeout allows for (the review-pending sweep redoes this).
        catch (Exception ex) when (ex is not OperationCanceledException && !DatabaseRetry.IsTransient(ex))
        {
            logger.LogWarning("Patient {PatientDbId}: other models' results not aggregated again for a review: {Error}", patientId, ex.Message);
        }
    }

    /// <summary>An aggregator under the fast-track rules of stored settings, else this worker's.</summary>
    private PatientAggregator AggregatorFor(string settingsJson) =>
        new(FastTrackOf(settingsJson) ?? model.Analysis.FastTrack, GiantRequiresNormalShapeOf(settingsJson));

    /// <summary>Whether only normal-shaped loops could be giant in the measurement a stored result was made with (this worker's where unrecorded).</summary>
    private bool GiantRequiresNormalShapeOf(string settingsJson)
    {
        try
        {
            using var settings = JsonDocument.Parse(settingsJson);
            return settings.RootElement.TryGetProperty("analysis", out var analysis)
                && analysis.TryGetProperty(nameof(AnalysisOptions.Measurement), out var measurement)
                && measurement.TryGetProperty(nameof(MeasurementOptions.GiantRequiresNormalShape), out var value)
                && value.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? value.GetBoolean() : model.Analysis.Measurement.GiantRequiresNormalShape;
        }
        catch (JsonException) { return model.Analysis.Measurement.GiantRequiresNormalShape; }
    }

    /// <summary>The fast-track rules a stored result was computed under (its settings' analysis.FastTrack), if they can be read.</summary>
    internal static FastTrackOptions? FastTrackOf(string settingsJson)
    {
        try
        {
            using var settings = JsonDocument.Parse(settingsJson);
            return settings.RootElement.TryGetProperty("analysis", out var analysis) && analysis.TryGetProperty(nameof(AnalysisOptions.FastTrack), out var rules)
                ? rules.Deserialize<FastTrackOptions>() : null;
        }
        catch (JsonException) { return null; }
    }

    private async Task CompleteIfDoneAsync(long studyId, IPublishEndpoint bus, Announcer announcer, CancellationToken ct)
    {
        var study = await retry.RunAsync(t => patients.CompleteStudyIfDoneAsync(studyId, t), ct);
        if (study is null) return;
        logger.LogInformation("Study {StudyDbId} {State}: {Succeeded} images analysed, {Failed} failed", study.StudyId, study.State, study.SucceededImages, study.FailedImages);
        await PublishStoredAsync(study.Event!, bus, announcer, ct);
    }

    /// <summary>
    /// Publishes an event its transition stored. A publish that fails (the broker away, no confirm in time) is left to
    /// the outbox rather than thrown: thrown, it skipped the chunk's other patients and the study, and a retry found
    /// them transitioned already, with nothing left to announce. After one failure the rest of the call's events go to
    /// the outbox unpublished, so a broker that is away costs one publish timeout, not one per event.
    /// </summary>
    private async Task PublishStoredAsync(PendingEvent stored, IPublishEndpoint bus, Announcer announcer, CancellationToken ct)
    {
        if (announcer.BrokerFailed)
        {
            // Released, so the next outbox pass takes it, in order, rather than after its claim's lease.
            try { await publisher.ReleaseAsync([stored], ct); }
            catch (Exception ex) when (DatabaseRetry.IsTransient(ex)) { }
            logger.LogInformation("Completion event {EventId} left to the outbox (the broker failed this completion's earlier publish)", stored.Id);
            return;
        }
        try { await publisher.PublishAsync([stored], bus, ct); }
        // Not the database away past its budget while the publish was recorded: thrown, as above (the event, published
        // and not stamped, goes out again from the outbox). A broker's failure, whatever its type, is left to the outbox.
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is not EventStampException)
        {
            announcer.BrokerFailed = true;
            logger.LogWarning(ex, "Completion event {EventId} was not published (or its publish not recorded); it, and the rest of this " +
                "completion's events, are left to the outbox", stored.Id);
        }
    }

    /// <summary>One completion's publishing: whether the broker failed a publish of it already.</summary>
    private sealed class Announcer
    {
        public bool BrokerFailed { get; set; }
    }
}
