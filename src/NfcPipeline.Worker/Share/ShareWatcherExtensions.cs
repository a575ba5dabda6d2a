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
            .ValidateOnStart();
        // The worker checks these before it starts (AddPipelineServices); this covers any other host, each problem named.
        builder.Services.AddSingleton<IValidateOptions<ShareWatcherOptions>, ShareWatcherOptionsValidator>();
        builder.Services.Configure<StorageOptions>(builder.Configuration.GetSection(StorageOptions.Section));
        AddSharedServices(builder.Services);
        builder.Services.TryAddSingleton(sp => new ShareScanner(sp.GetRequiredService<TimeProvider>()));
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
        // The worker's own where it has one; a host of the watcher alone retries by the defaults.
        services.TryAddSingleton(sp => new Hosting.DatabaseRetry(sp.GetService<WorkerOptions>() ?? new WorkerOptions(),
            sp.GetRequiredService<ILogger<Hosting.DatabaseRetry>>()));
        services.TryAddSingleton(sp => new ShareScanStore(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ResolveConnectionString()));
    }
}

/// <summary>Lets the options pattern (ValidateOnStart) report the problems <see cref="ShareWatcherOptions.Validate"/> names.</summary>
public sealed class ShareWatcherOptionsValidator : IValidateOptions<ShareWatcherOptions>
{
    public ValidateOptionsResult Validate(string? name, ShareWatcherOptions options) =>
        options.Validate() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
