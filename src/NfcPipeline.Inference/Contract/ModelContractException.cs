namespace NfcPipeline.Inference.Contract;

/// <summary>A model that does not meet its contract. <see cref="Problems"/> lists every problem found, not just the first.</summary>
public sealed class ModelContractException(string modelDescription, IReadOnlyList<string> problems)
    : Exception($"{modelDescription} does not meet the NfcPipeline model contract (docs/model-contract.md):\n  - " + string.Join("\n  - ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
