using NfcPipeline.Core.Aggregation;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Intake;

namespace NfcPipeline.Cli.Output;

/// <summary>How `nfc analyze` reports, as readable text or as JSON lines.</summary>
internal interface IAnalyzeOutput
{
    void Begin();
    void Image(StudyImage image, FieldOutcome outcome);
    void Skipped(SkippedEntry entry);
    void Patient(PatientReport report);
    void End(int succeeded, int failed, int skipped);
}
