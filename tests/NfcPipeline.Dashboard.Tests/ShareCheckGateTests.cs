using Microsoft.Extensions.Options;
using NfcPipeline.Dashboard.Api;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.Dashboard.Rendering;
using NfcPipeline.Imaging;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>A submission's share checks on a hung mount: given up on in time, and holding no more threads than slots.</summary>
public class ShareCheckGateTests
{
    private static ShareCheckGate Gate(int slots) => new(Options.Create(new DashboardOptions
    {
        SubmissionCheckTimeout = TimeSpan.FromSeconds(1), MaxConcurrentShareChecks = slots,
    }));

    [Fact]
    public async Task A_check_the_share_does_not_answer_is_given_up_on_and_keeps_its_slot_until_it_returns()
    {
        var gate = Gate(slots: 1);
        using var hung = new ManualResetEventSlim();
        int started = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        Assert.Equal((false, 0), await gate.RunAsync(() => { Interlocked.Increment(ref started); hung.Wait(); return 1; }, default));
        // The one slot is still held by the hung check: the next waits its timeout for it and runs nothing.
        Assert.Equal((false, 0), await gate.RunAsync(() => { Interlocked.Increment(ref started); return 2; }, default));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Equal(1, started);

        hung.Set();   // the mount answers: its slot comes back
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        (bool Answered, int Result) next;
        do next = await gate.RunAsync(() => 3, default);
        while (!next.Answered && DateTime.UtcNow < deadline);
        Assert.Equal((true, 3), next);
    }

    [Fact]
    public async Task A_check_that_throws_throws_to_its_caller_and_frees_its_slot()
    {
        var gate = Gate(slots: 1);
        await Assert.ThrowsAsync<IOException>(() => gate.RunAsync<int>(() => throw new IOException("gone"), default));
        Assert.Equal((true, "ok"), await gate.RunAsync(() => "ok", default));
    }

    [Fact]
    public void An_overlay_source_that_cannot_be_opened_is_missing_or_unreadable_not_undecodable()
    {
        Assert.Equal(OverlayService.Outcome.SourceMissing, OverlayService.OutcomeOf(
            ImageDecoder.MapFileException(new FileNotFoundException("x"), "/s/a.png")!));
        Assert.Equal(OverlayService.Outcome.Unreadable, OverlayService.OutcomeOf(
            ImageDecoder.MapFileException(new UnauthorizedAccessException("x"), "/s/a.png")!));
        Assert.Equal(OverlayService.Outcome.Unreadable, OverlayService.OutcomeOf(
            ImageDecoder.MapFileException(new IOException("Input/output error"), "/s/a.png")!));
        Assert.Equal(OverlayService.Outcome.Undecodable, OverlayService.OutcomeOf(new ImageDecodeException(ImageDecodeError.Corrupt, "bad")));
        Assert.Equal(OverlayService.Outcome.Undecodable, OverlayService.OutcomeOf(ImageDecoder.NotAFile("/")!));   // a FIFO's answer stays 422
    }
}
