using Microsoft.Extensions.Options;
using NfcPipeline.Storage;
using NfcPipeline.Storage.Migrations;

namespace NfcPipeline.Worker;

/// <summary>Applies pending migrations before anything else starts, when Storage:MigrateOnStartup is set.</summary>
public sealed class StartupMigrationService(IOptions<StorageOptions> options, ILoggerFactory loggers) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.MigrateOnStartup) return;
        var runner = new MigrationRunner(options.Value.ResolveConnectionString(), loggers.CreateLogger<MigrationRunner>());
        var result = await runner.ApplyAsync(MigrationSource.Embedded(), cancellationToken);
        loggers.CreateLogger<StartupMigrationService>().LogInformation(
            "Schema is current: {Applied} migrations applied now, {Existing} already applied", result.Applied.Count, result.AlreadyApplied);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
