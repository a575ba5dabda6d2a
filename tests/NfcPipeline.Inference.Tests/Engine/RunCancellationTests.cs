using NfcPipeline.Inference.Engine;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Tests.Engine;

/// <summary>A model run whose work is cancelled stops inside ONNX Runtime instead of running to its end.</summary>
public class RunCancellationTests
{
    [Fact]
    public async Task A_run_cancelled_while_it_runs_is_terminated_and_the_model_runs_again_afterwards()
    {
        // The shipped reference model on a large field, one thread: seconds of work, cancelled after a fraction of it.
        using var model = LoadedModel.Load(new InferenceOptions { ModelPath = "models/nfc-reference.onnx", Device = "cpu", IntraOpThreads = 1, MaxConcurrentRuns = 1 });
        const int side = 2048;
        var pixels = new float[3 * side * side];
        using var input = OrtValue.CreateTensorValueFromMemory(pixels.AsMemory(), [1, 3, side, side]);
        // Half a second: well inside the run, and past a start delayed by the other tests running beside this one
        // (at 100 ms the token was sometimes cancelled before the run began, under load).
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        var run = Task.Run(async () => await model.RunAsync(input, cancel.Token));
        var stopped = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(cancel.Token, stopped.CancellationToken);
        Assert.IsType<OnnxRuntimeException>(stopped.InnerException);   // stopped inside ORT, not before it began

        // The run slot was given back and the session is usable: a small field runs to its outputs.
        var small = new float[3 * 64 * 64];
        using var smallInput = OrtValue.CreateTensorValueFromMemory(small.AsMemory(), [1, 3, 64, 64]);
        using var outputs = await model.RunAsync(smallInput, new CancellationTokenSource().Token);
        Assert.Equal(model.OutputNames.Count, outputs.Count);
    }

    [Fact]
    public async Task A_run_whose_token_is_already_cancelled_does_not_start()
    {
        using var model = LoadedModel.Load(new InferenceOptions { ModelPath = "models/nfc-reference.onnx", Device = "cpu", IntraOpThreads = 1, MaxConcurrentRuns = 1 });
        using var input = OrtValue.CreateTensorValueFromMemory(new float[3 * 64 * 64].AsMemory(), [1, 3, 64, 64]);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await model.RunAsync(input, new CancellationToken(canceled: true)));
    }
}
