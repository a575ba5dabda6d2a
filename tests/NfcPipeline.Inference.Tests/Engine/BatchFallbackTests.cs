using NfcPipeline.Inference.Engine;
using NfcPipeline.Inference.Preprocessing;
using NfcPipeline.OnnxRuntime;

namespace NfcPipeline.Inference.Tests.Engine;

public class BatchFallbackTests
{
    [Fact]
    public async Task Images_whose_requests_ended_while_the_batch_ran_are_not_run_again_alone()
    {
        // Three images of a failed batch; the second one's deadline passed meanwhile: its result would go nowhere.
        var images = new PreprocessedImage[3];
        int runs = 0;
        var fallback = new BatchFallback();
        var decoded = await fallback.EachAloneAsync(images, new OnnxRuntimeException(OrtErrorCode.Fail, "batch too large"),
            _ => { runs++; return ValueTask.FromResult(DecodedInstances.Of([])); }, CancellationToken.None, hasEnded: i => i == 1);

        Assert.Equal(2, runs);
        Assert.Equal(DecodedInstances.NotRun, decoded[1]);
        Assert.NotNull(decoded[0].Instances);
        Assert.NotNull(decoded[2].Instances);
        Assert.Equal(1, fallback.Batches);
    }
}
