using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NfcPipeline.Intake.Share;
using NfcPipeline.Storage;
using NfcPipeline.Storage.Share;

namespace NfcPipeline.Worker.Share;

public static class ShareWatcherExtensions
{
    /// <summary>
    /// Binds the "Share" section and registers the watcher. The host must also configure MassTransit (the watcher
    /// publishes through IPublishEndpoint) and call <see cref="AddShareWatcherConsumers"/> inside AddMassTransit.
    /// </summary>
    public static IHostApplicationBuilder AddShareWatcher(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ShareWatcherOptions>()
            .Bind(builder.Configuration.GetSection(ShareWatcherOptions.Section))
            // Upper bounds too: a bare number binds as days ("30" would make every study wait a month).
            .Validate(o => o.PollInterval > TimeSpan.Zero && o.PollInterval <= TimeSpan.FromDays(1), "Share:PollInterval must be positive and at most a day (hh:mm:ss).")
            .Validate(o => o.SettleTime >= TimeSpan.Zero && o.SettleTime <= TimeSpan.FromDays(1), "Share:SettleTime must be 0 to a day (hh:mm:ss).")
            .Validate(o => o.TriggerCheckInterval > TimeSpan.Zero && o.TriggerCheckInterval <= TimeSpan.FromDays(1), "Share:TriggerCheckInterval must be positive and at most a day (hh:mm:ss).")
            .Validate(o => o.PublishTimeout > TimeSpan.Zero && o.PublishTimeout <= TimeSpan.FromDays(1), "Share:PublishTimeout must be positive and at most a day (hh:mm:ss).")
            .ValidateOnStart();
        builder.Services.Configure<StorageOptions>(builder.Configuration.GetSection(StorageOptions.Section));
        AddSharedServices(builder.Services);
        builder.Services.AddHostedService<ShareWatcherService>();
        return builder;
    }

    /// <summary>Registers <see cref="ScanShareNowConsumer"/>; call it inside AddMassTransit(x => ...).</summary>
    public static void AddShareWatcherConsumers(this IBusRegistrationConfigurator bus)
    {
        AddSharedServices(bus);
        bus.AddConsumer<ScanShareNowConsumer>();
    }

    private static void AddSharedServices(IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ShareScanSignal>();
        services.TryAddSingleton<StudyStatusFile>();
        services.TryAddSingleton(sp => new ShareScanStore(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ResolveConnectionString()));
    }
}
