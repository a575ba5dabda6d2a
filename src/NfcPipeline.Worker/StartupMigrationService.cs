using Microsoft.Extensions.Options;
using NfcPipeline.Storage;
using NfcPipeline.Storage.Migrations;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.Worker;

/// <summary>
/// Applies pending migrations before anything else starts, when Storage:MigrateOnStartup is set. A database that is
/// not up yet (a deploy restarting it) is waited for, as the worker's other database calls are, up to
/// <see cref="MaxWait"/>; the migration runner's lock makes a retry after a half-done attempt safe.
/// </summary>
public sealed class StartupMigrationService(IOptions<StorageOptions> options, ILoggerFactory loggers) : IHostedService
{
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(90);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.MigrateOnStartup) return;
        var logger = loggers.CreateLogger<StartupMigrationService>();
        var runner = new MigrationRunner(options.Value.ResolveConnectionString(), loggers.CreateLogger<MigrationRunner>());
        var deadline = DateTime.UtcNow + MaxWait;
        for (var delay = TimeSpan.FromSeconds(1); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks)))
        {
            try
            {
                var result = await runner.ApplyAsync(MigrationSource.Embedded(), cancellationToken);
                logger.LogInformation("Schema is current: {Applied} migrations applied now, {Existing} already applied", result.Applied.Count, result.AlreadyApplied);
                return;
            }
            catch (Exception ex) when (DatabaseRetry.IsTransient(ex) && DateTime.UtcNow + delay < deadline)
            {
                logger.LogWarning("The database is not reachable for migrations ({Error}); trying again in {Delay:0} s", ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, cancellationToken);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
