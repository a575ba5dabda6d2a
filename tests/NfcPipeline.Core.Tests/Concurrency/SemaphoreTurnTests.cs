using NfcPipeline.Core.Concurrency;

namespace NfcPipeline.Core.Tests.Concurrency;

public class SemaphoreTurnTests
{
    [Fact]
    public async Task A_turn_gives_its_count_back_once_however_often_it_is_disposed()
    {
        using var semaphore = new SemaphoreSlim(2, 2);
        await semaphore.WaitAsync();
        await semaphore.WaitAsync();
        var turn = new SemaphoreTurn(semaphore);

        turn.Dispose();
        turn.Dispose();   // a second would have taken another holder's count (or thrown SemaphoreFullException)

        Assert.Equal(1, semaphore.CurrentCount);
    }
}
