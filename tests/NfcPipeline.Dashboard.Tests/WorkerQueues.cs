using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>
/// The worker's queues on the test broker's vhost, declared as a worker's bus declares them (message-type exchange,
/// endpoint exchange, durable classic queue): the dashboard and the CLI publish mandatory, and a broker no worker has
/// started on refuses their messages.
/// </summary>
internal static class WorkerQueues
{
    private static readonly Lazy<Task> Declared = new(DeclareAsync);

    public static Task EnsureAsync() => Declared.Value;

    private static async Task DeclareAsync()
    {
        using var client = new HttpClient { BaseAddress = TestServices.RabbitManagementUri, Timeout = TimeSpan.FromSeconds(30) };
        var (user, password) = TestServices.RabbitCredentials;
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        var path = TestServices.RabbitUri.AbsolutePath.Trim('/');
        var vhost = Uri.EscapeDataString(path.Length == 0 ? "/" : Uri.UnescapeDataString(path));
        foreach (var (type, queue) in new[] { ("SubmitStudy", "submit-study"), ("AnalyzeImages", "analyze-images"),
                     ("ReaggregatePatient", "reaggregate-patient"), ("ScanShareNow", "scan-share-now") })
        {
            var exchange = Uri.EscapeDataString("NfcPipeline.Contracts:" + type);
            (await client.PutAsJsonAsync($"api/exchanges/{vhost}/{exchange}", new { type = "fanout", durable = true })).EnsureSuccessStatusCode();
            (await client.PutAsJsonAsync($"api/exchanges/{vhost}/{queue}", new { type = "fanout", durable = true })).EnsureSuccessStatusCode();
            (await client.PutAsJsonAsync($"api/queues/{vhost}/{queue}", new { durable = true })).EnsureSuccessStatusCode();
            (await client.PostAsJsonAsync($"api/bindings/{vhost}/e/{exchange}/e/{queue}", new { })).EnsureSuccessStatusCode();
            (await client.PostAsJsonAsync($"api/bindings/{vhost}/e/{queue}/q/{queue}", new { })).EnsureSuccessStatusCode();
        }
    }
}
