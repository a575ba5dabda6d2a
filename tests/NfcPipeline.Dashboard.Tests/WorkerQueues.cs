using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>
/// A queue of the tests' own bound to each work message's exchange on the test broker's vhost, holding nothing
/// (x-max-length 0): the dashboard and the CLI publish mandatory, and a broker no worker has started on refuses their
/// messages. Not the worker's queues, which a developer's own worker on the same vhost would consume the tests'
/// messages from (or could not declare, with other arguments).
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
            // The exchange as a worker's bus declares it; the queue the tests' own.
            var exchange = Uri.EscapeDataString("NfcPipeline.Contracts:" + type);
            var sink = "nfc-test-sink-" + queue;
            (await client.PutAsJsonAsync($"api/exchanges/{vhost}/{exchange}", new { type = "fanout", durable = true })).EnsureSuccessStatusCode();
            (await client.PutAsJsonAsync($"api/queues/{vhost}/{sink}", new { durable = false, arguments = new Dictionary<string, object> { ["x-max-length"] = 0 } }))
                .EnsureSuccessStatusCode();
            (await client.PostAsJsonAsync($"api/bindings/{vhost}/e/{exchange}/q/{sink}", new { })).EnsureSuccessStatusCode();
        }
    }
}
