using MassTransit;
using NfcPipeline.Contracts;

namespace NfcPipeline.IntegrationTests;

/// <summary>
/// The message types' names on the wire: the URN that publishers outside this repository write (docs/messages.md) and the
/// exchange each is published to, both taken from the namespace and type name. Renaming or moving a contract would
/// leave those publishers' messages on an exchange no queue is bound to, lost without a word: it must be deliberate.
/// </summary>
public class ContractNamesTests
{
    [Theory]
    [InlineData(typeof(SubmitStudy), "SubmitStudy")]
    [InlineData(typeof(AnalyzeImages), "AnalyzeImages")]
    [InlineData(typeof(ScanShareNow), "ScanShareNow")]
    [InlineData(typeof(ReaggregatePatient), "ReaggregatePatient")]
    [InlineData(typeof(StudySubmitted), "StudySubmitted")]
    [InlineData(typeof(PatientCompleted), "PatientCompleted")]
    [InlineData(typeof(StudyCompleted), "StudyCompleted")]
    public void Every_message_type_keeps_its_published_name(Type type, string name)
    {
        // RabbitMQ's exchange is this URN without its "urn:message:" prefix.
        Assert.Equal($"urn:message:NfcPipeline.Contracts:{name}", MessageUrn.ForTypeString(type));
    }
}
