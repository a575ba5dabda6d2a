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
        var hung = new ManualResetEventSlim();   // not disposed: a check still blocked on it must not meet a disposed event
        bool secondRan = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            Assert.Equal((false, 0), await gate.RunAsync(() => { hung.Wait(); return 1; }, default));
            // The one slot is still held by the hung check: the next waits its timeout for it and runs nothing.
            Assert.Equal((false, 0), await gate.RunAsync(() => { secondRan = true; return 2; }, default));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
            Assert.False(secondRan);
        }
        finally { hung.Set(); }   // the mount answers: its slot comes back

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        (bool Answered, int Result) next;
        do next = await gate.RunAsync(() => 3, default);
        while (!next.Answered && DateTime.UtcNow < deadline);
        Assert.Equal((true, 3), next);
    }

    [Fact]
    public async Task A_requests_checks_share_one_budget()
    {
        // Started 2 s ago with a 1 s budget: nothing is waited for, and nothing runs.
        var started = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(2));
        bool ran = false;
        Assert.Equal((false, 0), await Gate(slots: 1).RunAsync(() => { ran = true; return 1; }, default, started));
        Assert.False(ran);
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
        // Refused as it was opened (a link swapped to lead out of the share): no matter of access, and not retryable.
        Assert.Equal(OverlayService.Outcome.Undecodable, OverlayService.OutcomeOf(
            ImageDecoder.MapFileException(new NfcPipeline.Intake.ShareFileRefusedException("leads out of the share"), "/s/a.png")!));
    }
}
