using NfcPipeline.Worker;
using NfcPipeline.Worker.Hosting;

var builder = WebApplication.CreateBuilder(args);
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
try { await app.RunAsync(); }
catch (Exception ex) when (DatabaseRetry.IsTransient(ex) || ex is NfcPipeline.Storage.Migrations.MigrationException)
{
    // The database stayed unreachable through the start-up's wait, a migration failed, or a hosted service stopped
    // the host on a database error: said in one line.
    Console.Error.WriteLine($"nfc-worker: stopped: {ex.Message}");
    return 1;
}
return 0;
