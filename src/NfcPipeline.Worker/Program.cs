using NfcPipeline.Worker;
using NfcPipeline.Worker.Hosting;

// appsettings.json beside the program, wherever it is started from (a service unit's working folder is often /).
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
try { builder.AddPipelineServices(); }
catch (WorkerConfigurationException ex)
{
    Console.Error.WriteLine("nfc-worker: refusing to start:");
    foreach (var problem in ex.Problems) Console.Error.WriteLine("  " + problem);
    return 1;
}
builder.WebHost.UseUrls(builder.Configuration["Worker:HealthUrls"] ?? new WorkerOptions().HealthUrls);
var app = builder.Build();
app.MapPipelineHealth();
// The model is loaded before the host starts: one that cannot be used stops the worker with the reason, as bad
// settings do (inside the host's start it was a logged stack trace).
try { app.Services.GetService<NfcPipeline.Worker.Analysis.ModelHost>()?.Load(); }
catch (Exception ex) when (WorkerStartup.IsModelProblem(ex))
{
    Console.Error.WriteLine($"nfc-worker: refusing to start: {WorkerStartup.Describe(ex)}");
    return 1;
}
// The stop deadline counts from the start of the shutdown: made now, not when a consumer first needs it.
app.Services.GetService<WorkerShutdown>();
// Taken now: RunAsync disposes the services when it returns.
var backgroundServices = app.Services.GetServices<IHostedService>().OfType<BackgroundService>().ToList();
var (started, stopping) = (app.Lifetime.ApplicationStarted, app.Lifetime.ApplicationStopping);
try { await app.RunAsync(); }
catch (OperationCanceledException) when (stopping.IsCancellationRequested && !started.IsCancellationRequested)
{
    // Stopped (SIGTERM, Ctrl-C) while starting, the model still warming up: nothing was taken from the queues. It was
    // an unhandled exception with a stack trace and a crash's exit code.
    Console.Error.WriteLine("nfc-worker: stopped while starting");
    return 0;
}
catch (Exception ex) when (DatabaseRetry.IsTransient(ex) || ex is NfcPipeline.Storage.Migrations.MigrationException)
{
    // A hosted service's start failed: the database stayed unreachable through the start-up's wait, or a migration
    // failed. Said in one line. (A background service failing later stops the host without an exception here.)
    Console.Error.WriteLine($"nfc-worker: stopped: {ex.Message}");
    return 1;
}
catch (Exception ex) when (started.IsCancellationRequested is false)
{
    // Any other failure of a hosted service's start (the model's warm-up run, a database that refuses the worker's
    // statements): one line, and a failure's exit code; the host has logged it in full.
    Console.Error.WriteLine($"nfc-worker: stopped while starting: {ex.GetType().Name}: {ex.Message}");
    return 1;
}
// A background service that failed stopped the host without an exception here: a supervisor must see a failure.
if (backgroundServices.FirstOrDefault(s => s.ExecuteTask is { IsFaulted: true }) is { } failed)
{
    Console.Error.WriteLine($"nfc-worker: stopped: {failed.GetType().Name} failed: {failed.ExecuteTask!.Exception?.GetBaseException().Message}");
    return 1;
}
return 0;
