namespace NfcPipeline.Inference.Batching;

/// <summary>Runs one batch, for example one ONNX Runtime session run over a padded tensor.</summary>
public interface IBatchExecutor<TRequest, TResult>
{
    /// <summary>
    /// Returns one result per request of <paramref name="batch"/>, aligned by index. The token is cancelled when
    /// every request of the batch has been abandoned by its caller, or when a drain runs out of time.
    /// </summary>
    ValueTask<IReadOnlyList<TResult>> ExecuteAsync(BatchContext<TRequest> batch, CancellationToken cancellationToken);
}
