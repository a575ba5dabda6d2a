using MassTransit;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>A bus with a receive endpoint of its own (auto-deleted) on the test broker, handing each T to a callback.</summary>
internal static class MessageListener
{
    public static async Task<IBusControl> StartAsync<T>(string name, Action<ConsumeContext<T>> received) where T : class
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(TestServices.RabbitUri);
            cfg.ReceiveEndpoint($"nfc-test-{name}-{Guid.NewGuid().ToString("N")[..8]}", e =>
            {
                e.AutoDelete = true;
                e.Handler<T>(ctx => { received(ctx); return Task.CompletedTask; });
            });
        });
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        return bus;
    }
}
