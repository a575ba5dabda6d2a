using MassTransit;
using NfcPipeline.Contracts;

namespace NfcPipeline.Worker.Completion;

/// <summary>Aggregates a patient again from its stored results (a field excluded or included at review).</summary>
public sealed class ReaggregatePatientConsumer(CompletionTracker completion) : IConsumer<ReaggregatePatient>
{
    public Task Consume(ConsumeContext<ReaggregatePatient> context) =>
        completion.ReaggregateAsync(context.Message.PatientDbId, context, context.CancellationToken);
}
