using NfcPipeline.Dashboard.Hosting;

var builder = WebApplication.CreateBuilder(args);
try
{
    builder.AddDashboardServices();
}
catch (DashboardConfigurationException ex)
{
    await Console.Error.WriteLineAsync($"nfc-dashboard: refusing to start: {ex.Message}");
    return 1;
}
var app = builder.Build();
app.MapDashboard();
await app.RunAsync();
return 0;
