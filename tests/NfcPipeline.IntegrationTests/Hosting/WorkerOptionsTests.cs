using Microsoft.Extensions.Configuration;
using NfcPipeline.Worker;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.IntegrationTests.Hosting;

public class WorkerOptionsTests
{
    [Fact]
    public void A_prefetch_below_the_concurrency_limit_is_refused_because_the_limit_would_never_be_reached()
    {
        Assert.Empty(new WorkerOptions().Validate());
        Assert.Empty(new WorkerOptions { PrefetchCount = 4, ConcurrentMessageLimit = 4 }.Validate());
        var problem = Assert.Single(new WorkerOptions { PrefetchCount = 2, ConcurrentMessageLimit = 4 }.Validate());
        Assert.StartsWith("Worker:PrefetchCount (2) must be at least Worker:ConcurrentMessageLimit (4)", problem);
        // A prefetch of 0 is named once, for itself.
        Assert.Equal(["Worker:PrefetchCount must be 1 to 65535 (0 would mean no limit), got 0."],
            new WorkerOptions { PrefetchCount = 0 }.Validate());
        // 65536 reached the broker as 0 (its prefetch is 16 bits): no limit at all.
        Assert.Equal(["Worker:PrefetchCount must be 1 to 65535 (0 would mean no limit), got 65536."],
            new WorkerOptions { PrefetchCount = 65536, ConcurrentMessageLimit = 4 }.Validate());
    }

    [Fact]
    public void A_setting_no_option_reads_is_named_not_ignored()
    {
        // "Worker:StopTimout" bound to nothing, and the worker ran on the default it was meant to change.
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:StopTimout"] = "00:05:00", ["Worker:Enabled"] = "true", ["worker:chunksize"] = "8",
            ["Inference:Batching:MaxBatchsize"] = "8", ["Inference:Batching:MaxBatchSise"] = "8",
            ["Inference:Decoder:CenterThreshold"] = "0.4", ["Inference:Decoder:CenterThresold"] = "0.4",
        }).Build();

        var unknown = UnknownSettings.Of(config.GetSection("Worker"), typeof(WorkerOptions), "Enabled")
            .Concat(UnknownSettings.Of(config.GetSection("Inference"), typeof(NfcPipeline.Inference.InferenceOptions), "Batching"))
            .Concat(UnknownSettings.Of(config.GetSection("Inference:Batching"), typeof(NfcPipeline.Inference.Batching.DynamicBatcherOptions)));

        Assert.Equal(["Worker:StopTimout is not a setting (a typo? it would be ignored).",
            "Inference:Decoder:CenterThresold is not a setting (a typo? it would be ignored).",
            "Inference:Batching:MaxBatchSise is not a setting (a typo? it would be ignored)."], unknown);
    }

    [Fact]
    public void Waits_and_retries_that_outlast_the_brokers_ack_timeout_are_refused()
    {
        // Each was bounded alone: a retry limit of 100 or an hour's database budget held deliveries past the broker's
        // ack timeout, whose redeliveries then waited and retried in turn.
        Assert.Empty(new WorkerOptions().Validate());
        var problems = new WorkerOptions { RedeliveryWaitLimit = TimeSpan.FromMinutes(30), MessageRetryLimit = 100 }.Validate();
        Assert.Contains(problems, p => p.StartsWith("Worker:RedeliveryWaitLimit (00:30:00) must be below Worker:BrokerAckTimeout (00:30:00)", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Worker:DatabaseRetryBudget (00:01:30) times the 101 tries", StringComparison.Ordinal));
        // A broker configured with a longer timeout, said so, takes them.
        Assert.Empty(new WorkerOptions { RedeliveryWaitLimit = TimeSpan.FromMinutes(30), MessageRetryLimit = 100, BrokerAckTimeout = TimeSpan.FromHours(4) }.Validate());
        Assert.Contains(new WorkerOptions { BrokerAckTimeout = TimeSpan.FromSeconds(5) }.Validate(), p => p.StartsWith("Worker:BrokerAckTimeout must be", StringComparison.Ordinal));
        Assert.Contains(new WorkerOptions { MessageRetryLimit = int.MaxValue }.Validate(), p => p.StartsWith("Worker:DatabaseRetryBudget (00:01:30) times the", StringComparison.Ordinal));
    }

    [Fact]
    public void Spans_too_short_to_work_are_refused()
    {
        // A heartbeat timer under a millisecond threw after the bus had taken messages; a publish given a few
        // milliseconds gave up before any confirm, and every outbox pass published every chunk again.
        var problems = new WorkerOptions { HeartbeatInterval = TimeSpan.FromTicks(5000), RepublishAfter = TimeSpan.FromMilliseconds(5) }.Validate();
        Assert.Contains(problems, p => p.StartsWith("Worker:HeartbeatInterval must be 1 second to under 2 minutes", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Worker:RepublishAfter must be 1 second to 1 day", StringComparison.Ordinal));
        Assert.Contains("Share:StallTimeout must be 1 second to 1 day (hh:mm:ss), got 00:00:00.0100000.",
            new NfcPipeline.Worker.Share.ShareWatcherOptions { StallTimeout = TimeSpan.FromMilliseconds(10) }.Validate());
        // Shorter than a chunk's run and a redelivered message's wait, a live chunk's copy would be sent again.
        Assert.Equal(["Worker:AbandonedChunkAfter must be 10 minutes to 7 days (d.hh:mm:ss), got 00:05:00."],
            new WorkerOptions { AbandonedChunkAfter = TimeSpan.FromMinutes(5) }.Validate());
        Assert.Empty(new WorkerOptions { AbandonedChunkAfter = TimeSpan.FromDays(7) }.Validate());
    }
}
