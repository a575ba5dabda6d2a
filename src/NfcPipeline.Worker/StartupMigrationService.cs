using Microsoft.Extensions.Options;
using NfcPipeline.Storage;
using NfcPipeline.Storage.Migrations;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker;

/// <summary>
/// Applies pending migrations before anything else starts, when Storage:MigrateOnStartup is set. A database that is
/// not up yet (a deploy restarting it) is waited for with the worker's own database retry, up to <see cref="MaxWait"/>;
/// the migration runner's lock makes a retry after a half-done attempt safe.
/// </summary>
public sealed class StartupMigrationService(IOptions<StorageOptions> options, ILoggerFactory loggers) : IHostedService
{
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(90);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.MigrateOnStartup) return;
        var runner = new MigrationRunner(options.Value.ResolveConnectionString(), loggers.CreateLogger<MigrationRunner>());
        // Built here: a migrate-only host registers no DatabaseRetry (nor the worker options it reads).
        var retry = new DatabaseRetry(new WorkerOptions { DatabaseRetryBudget = MaxWait }, loggers.CreateLogger<DatabaseRetry>());
        var result = await retry.RunAsync(t => runner.ApplyAsync(MigrationSource.Embedded(), t), cancellationToken);
        loggers.CreateLogger<StartupMigrationService>().LogInformation(
            "Schema is current: {Applied} migrations applied now, {Existing} already applied", result.Applied.Count, result.AlreadyApplied);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
