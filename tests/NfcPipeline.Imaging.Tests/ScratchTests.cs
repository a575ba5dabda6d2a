namespace NfcPipeline.Imaging.Tests;

public class ScratchTests
{
    [Fact]
    public void A_large_buffer_is_exactly_as_long_as_asked_and_a_small_one_comes_from_the_pool()
    {
        // Past the limit: not rounded up to a power of two, and not kept by the pool after use.
        int large = (int)(Scratch.PooledLimitBytes / sizeof(float)) + 3;
        var big = Scratch.Rent<float>(large);
        Assert.Equal(large, big.Length);
        Scratch.Return(big);
        Assert.NotSame(big, Scratch.Rent<float>(large));

        var small = Scratch.Rent<float>(1000);
        Assert.Equal(1024, small.Length);   // the pool's size class
        Scratch.Return(small);
        Assert.Same(small, Scratch.Rent<float>(1000));
    }
}
