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
            // The worker checks these before it starts (AddPipelineServices); this covers any other host.
            .Validate(o => o.Validate().Count == 0, "Share: settings that cannot run (see ShareWatcherOptions.Validate).")
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
