using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.IntegrationTests;

public class MessagingTests
{
    [Fact]
    public async Task A_published_message_makes_a_round_trip_through_the_real_broker()
    {
        var received = new TaskCompletionSource<SubmitStudy>(TaskCreationOptions.RunContinuationsAsynchronously);
        var queue = "nfc-test-roundtrip-" + Guid.NewGuid().ToString("N")[..8];
        var studyId = "round-trip-" + Guid.NewGuid().ToString("N")[..8];
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(TestServices.RabbitUri);
            cfg.ReceiveEndpoint(queue, e =>
            {
                e.AutoDelete = true;
                // Other tests publish SubmitStudy on this broker too: only our own message completes the round trip.
                e.Handler<SubmitStudy>(ctx =>
                {
                    if (ctx.Message.StudyId == studyId) received.TrySetResult(ctx.Message);
                    return Task.CompletedTask;
                });
            });
        });

        using var startTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { await bus.StartAsync(startTimeout.Token); }
        catch (Exception ex) { throw TestServices.Unavailable("RabbitMQ", TestServices.RabbitUri.ToString(), ex); }
        try
        {
            var sent = new SubmitStudy { StudyId = studyId, FolderPath = "studies/a", MicrometresPerPixel = 2.0, Images = [new("p1/L2/f1.jpg", "p1", "L2")] };
            await bus.Publish(sent);

            var got = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(sent.StudyId, got.StudyId);
            Assert.Equal(sent.FolderPath, got.FolderPath);
            Assert.Equal(2.0, got.MicrometresPerPixel);
            Assert.Equal(sent.Images, got.Images);
        }
        finally { await bus.StopAsync(); }
    }
}
