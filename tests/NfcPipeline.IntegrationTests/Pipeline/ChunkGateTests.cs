using NfcPipeline.Worker.Analysis;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>A chunk abandoned before (its worker crashed while running it) runs alone, so a crash it causes is its own.</summary>
public class ChunkGateTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Chunks_run_side_by_side_and_a_lone_one_waits_for_them_and_holds_the_others_off()
    {
        var gate = new ChunkGate();
        var first = await gate.EnterAsync(alone: false, default);
        var second = await gate.EnterAsync(alone: false, default);
        Assert.Equal(2, gate.Running);

        var lone = gate.EnterAsync(alone: true, default);
        var later = gate.EnterAsync(alone: false, default);
        await Task.Delay(200);
        Assert.False(lone.IsCompleted);    // two still run
        Assert.False(later.IsCompleted);   // none starts while a lone one waits

        first.Dispose();
        second.Dispose();
        var loneSlot = await lone.WaitAsync(Patience);
        Assert.Equal(1, gate.Running);
        await Task.Delay(200);
        Assert.False(later.IsCompleted);   // not beside the lone one

        loneSlot.Dispose();
        loneSlot.Dispose();                // once only
        (await later.WaitAsync(Patience)).Dispose();
        Assert.Equal(0, gate.Running);
    }

    [Fact]
    public async Task A_lone_chunk_cancelled_while_waiting_lets_the_others_start()
    {
        var gate = new ChunkGate();
        using var running = await gate.EnterAsync(alone: false, default);
        using var stop = new CancellationTokenSource();
        var lone = gate.EnterAsync(alone: true, stop.Token);
        var later = gate.EnterAsync(alone: false, default);
        await Task.Delay(200);
        Assert.False(later.IsCompleted);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lone);
        (await later.WaitAsync(Patience)).Dispose();
        // A second lone chunk still gets its turn.
        running.Dispose();
        (await gate.EnterAsync(alone: true, default).WaitAsync(Patience)).Dispose();
    }
}
