using NfcPipeline.Imaging;
using NfcPipeline.Inference.Engine;

namespace NfcPipeline.Inference.Tests.Engine;

public class SpareTensorTests
{
    private static readonly int Large = (int)(Scratch.PooledLimitBytes / sizeof(float)) + 5;

    [Fact]
    public void A_large_batch_tensor_is_kept_for_the_next_batch_of_its_size_only()
    {
        var spare = new SpareTensor();
        var first = spare.Rent(Large);
        Assert.Equal(Large, first.Length);   // exact: no power-of-two rounding
        spare.Return(first);
        Assert.Same(first, spare.Rent(Large));   // the next batch reuses it
        spare.Return(first);

        var other = spare.Rent(Large + 1);   // another bucket's size: a new one, the old spare let go
        Assert.NotSame(first, other);
        Assert.NotSame(first, spare.Rent(Large));
    }
}
