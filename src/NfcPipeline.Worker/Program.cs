using NfcPipeline.Worker;
using NfcPipeline.Worker.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddPipelineServices();
builder.WebHost.UseUrls(builder.Configuration["Worker:HealthUrls"] ?? new WorkerOptions().HealthUrls);
var app = builder.Build();
app.MapPipelineHealth();
await app.RunAsync();
