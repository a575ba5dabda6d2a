using NfcPipeline.Contracts;
using NfcPipeline.Dashboard.Hosting;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Publishes inside a transaction give up on a broker that stops confirming, counted from the first publish.</summary>
public class StallGuardedPublisherTests
{
    [Fact]
    public async Task The_stall_is_counted_from_the_first_publish_not_from_the_locks_and_updates_before_it()
    {
        // A bulk requeue waits for its studies' locks and updates its rows before it publishes: 10 s of that made the
        // first publish fail on a healthy broker ("RabbitMQ did not confirm"), and the requeue rolled back.
        var received = new TaskCompletionSource<ReaggregatePatient>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = await MessageListener.StartAsync<ReaggregatePatient>("stall-guard", ctx =>
        {
            if (ctx.Message.RequestedBy == "stall-guard-test") received.TrySetResult(ctx.Message);
        });
        try
        {
            using var publisher = new StallGuardedPublisher(bus);
            await Task.Delay(BoundedPublish.Timeout + TimeSpan.FromSeconds(1));
            await publisher.PublishAsync(new ReaggregatePatient(42, "stall-guard-test"), default);
            Assert.Equal(42, (await received.Task.WaitAsync(TimeSpan.FromSeconds(30))).PatientDbId);
        }
        finally { await bus.StopAsync(); }
    }
}
