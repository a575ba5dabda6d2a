using Microsoft.Extensions.Diagnostics.HealthChecks;
using NfcPipeline.Inference.Engine;

namespace NfcPipeline.Worker.Hosting;

/// <summary>
/// Images failing in ONNX Runtime one after another, with none analysed between them. A device lost after warm-up (a
/// GPU fault, its memory taken by another process) fails every run while the model stays loaded: readiness said
/// healthy as every study completed with errors.
/// </summary>
public sealed class InferenceStreak(WorkerOptions options)
{
    private int _failures;
    private string? _lastError;

    /// <summary>
    /// A chunk's final outcomes: an image analysed ends the streak, a run that failed in ONNX Runtime (one that may pass:
    /// memory, a device) adds to it; others neither, an output too large or an input the graph refuses included (the
    /// image's own doing, not the device's).
    /// </summary>
    public void Record(IEnumerable<FieldOutcome> outcomes)
    {
        foreach (var outcome in outcomes)
        {
            if (outcome.Succeeded) Interlocked.Exchange(ref _failures, 0);
            else if (outcome is { ErrorCode: FieldOutcome.InferenceFailedCode, MayPassLater: true })
            {
                Volatile.Write(ref _lastError, outcome.Error);
                Interlocked.Increment(ref _failures);
            }
        }
    }

    public int Failures => Volatile.Read(ref _failures);

    /// <summary>Why the worker cannot analyse now, or null (below <see cref="WorkerOptions.UnhealthyAfterInferenceFailures"/>, or that is 0).</summary>
    public string? Problem
    {
        get
        {
            int failures = Failures;   // once: a reset between two reads printed "the last 0 images"
            return options.UnhealthyAfterInferenceFailures > 0 && failures >= options.UnhealthyAfterInferenceFailures
                ? $"The last {failures} images analysed all failed in ONNX Runtime, none analysed since; the last: {Volatile.Read(ref _lastError)}"
                : null;
        }
    }
}

/// <summary>Readiness fails while <see cref="InferenceStreak"/> says every run fails.</summary>
public sealed class InferenceHealthCheck(InferenceStreak streak) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(streak.Problem is { } problem ? HealthCheckResult.Unhealthy(problem) : HealthCheckResult.Healthy());
}
