using NfcPipeline.Storage;

namespace NfcPipeline.Worker;

public static class PipelineServiceExtensions
{
    /// <summary>Registers the worker's services: storage options and the start-up migration.</summary>
    public static IHostApplicationBuilder AddPipelineServices(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<StorageOptions>(builder.Configuration.GetSection(StorageOptions.Section));
        builder.Services.AddHostedService<StartupMigrationService>();
        return builder;
    }
}
