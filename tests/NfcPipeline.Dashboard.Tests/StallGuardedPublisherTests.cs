using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Dashboard.Hosting;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>
/// The dashboard's and the CLI's publishes: bounded in time (inside a transaction, counted from the first publish) and
/// mandatory, so a message no queue would receive is refused rather than confirmed and dropped.
/// </summary>
public class StallGuardedPublisherTests
{
    [Fact]
    public async Task A_message_no_queue_would_receive_is_refused_not_confirmed_and_lost()
    {
        // A broker no worker has started on (a fresh or reset one): a submission was answered 202, and a requeued job
        // stamped published, with the message dropped.
        await using var vhost = await RabbitVhost.CreateAsync();
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(vhost.AmqpUri));
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        try
        {
            var notTaken = await BoundedPublish.TryPublishAsync(bus, new SubmitStudy { StudyId = "S", FolderPath = "s" }, null, "submission", default);
            Assert.True(notTaken!.NoQueue);
            Assert.StartsWith("RabbitMQ has no queue for the submission: no worker has started on this broker", notTaken.Reason);
            using var publisher = new StallGuardedPublisher(bus);
            var refused = await Assert.ThrowsAsync<BrokerUnavailableException>(() => publisher.PublishAsync(new ReaggregatePatient(1, "test"), default));
            Assert.StartsWith("RabbitMQ has no queue for the message", refused.Message);

            // With a queue bound, the same publishes go through.
            await vhost.BindQueueAsync("NfcPipeline.Contracts:SubmitStudy", "submit-study");
            Assert.Null(await BoundedPublish.TryPublishAsync(bus, new SubmitStudy { StudyId = "S", FolderPath = "s" }, null, "submission", default));
            // The management API's counts lag the queue by a few seconds.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (await vhost.QueueDepthAsync("submit-study") == 0 && DateTime.UtcNow < deadline) await Task.Delay(500);
            Assert.Equal(1L, await vhost.QueueDepthAsync("submit-study"));
        }
        finally { await bus.StopAsync(); }

        // Through the dashboard's own bus: the API answers 503 with the reason, not 202 for a message nobody receives.
        await vhost.DeleteQueueAsync("submit-study");
        await using var data = await TestData.CreateAsync();
        var settings = ApiTests.Settings(data);
        settings["Messaging:RabbitUri"] = vhost.AmqpUri.ToString();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        using var client = ApiTests.Keyed(host);
        var response = await client.PostAsync("/api/studies", new StringContent("""{"studyId":"NOQ-1","folderPath":"studyN"}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("RabbitMQ has no queue for the submission: no worker has started on this broker yet (or it was reset); start a worker",
            await response.Content.ReadAsStringAsync());
    }

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
