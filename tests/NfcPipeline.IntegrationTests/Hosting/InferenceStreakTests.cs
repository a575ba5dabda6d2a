using Microsoft.Extensions.Diagnostics.HealthChecks;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Worker;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.IntegrationTests.Hosting;

public class InferenceStreakTests
{
    private static FieldOutcome Failed(string code, string error = "x", bool mayPassLater = true) => FieldOutcome.Failed(code, error, mayPassLater);

    private static async Task<HealthStatus> ReadinessAsync(InferenceStreak streak) =>
        (await new InferenceHealthCheck(streak).CheckHealthAsync(new HealthCheckContext())).Status;

    [Fact]
    public async Task Readiness_fails_once_every_run_fails_in_onnx_runtime_and_recovers_with_an_image_analysed()
    {
        var streak = new InferenceStreak(new WorkerOptions { UnhealthyAfterInferenceFailures = 3 });
        streak.Record([Failed("InferenceFailed"), Failed("InferenceFailed")]);
        Assert.Equal(HealthStatus.Healthy, await ReadinessAsync(streak));

        // Other failures (a corrupt file, an output too large, an input the graph refuses) say nothing of the device:
        // neither count nor end the streak.
        streak.Record([Failed("Truncated"), Failed("InferenceFailed", "[ErrorCode:InvalidArgument] bad input", mayPassLater: false),
            Failed("InferenceFailed", "[ErrorCode:Fail] CUDA failure 999: unknown error")]);
        Assert.Equal(3, streak.Failures);
        var result = await new InferenceHealthCheck(streak).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("The last 3 images analysed all failed in ONNX Runtime, none analysed since; the last: [ErrorCode:Fail] CUDA failure 999: unknown error",
            result.Description);

        streak.Record([new FieldOutcome(null, null, null, null)]);   // analysed
        Assert.Equal(0, streak.Failures);
        Assert.Equal(HealthStatus.Healthy, await ReadinessAsync(streak));

        // 0: never unready for it.
        var off = new InferenceStreak(new WorkerOptions { UnhealthyAfterInferenceFailures = 0 });
        off.Record(Enumerable.Repeat(Failed("InferenceFailed"), 100));
        Assert.Equal(HealthStatus.Healthy, await ReadinessAsync(off));
        Assert.Contains("Worker:UnhealthyAfterInferenceFailures must be 0 (never) to 1000000, got -1.",
            new WorkerOptions { UnhealthyAfterInferenceFailures = -1 }.Validate());
    }
}
