using NfcPipeline.Imaging.Codecs;

namespace NfcPipeline.Imaging.Tests;

public class ScratchTests
{
    [Fact]
    public void Buffers_up_to_the_limit_are_pooled_and_larger_ones_are_not_kept()
    {
        var small = Scratch.Rent<uint>(1 << 20);   // 4 MiB
        Scratch.Return(small);
        Assert.Same(small, Scratch.Rent<uint>(1 << 20));

        int large = (int)(Scratch.PooledLimitBytes / sizeof(uint)) + 1;
        var huge = Scratch.Rent<uint>(large);
        Assert.Equal(large, huge.Length);           // exactly as asked: not a pool's power of two
        Scratch.Return(huge);
        Assert.NotSame(huge, Scratch.Rent<uint>(large));
    }
}
