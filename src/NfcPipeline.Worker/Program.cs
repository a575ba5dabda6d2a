using NfcPipeline.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.AddPipelineServices();
await builder.Build().RunAsync();
