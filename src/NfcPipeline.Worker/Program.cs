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
await app.RunAsync();
return 0;
