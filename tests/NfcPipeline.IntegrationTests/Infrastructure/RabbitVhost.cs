using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;

namespace NfcPipeline.IntegrationTests.Infrastructure;

/// <summary>A RabbitMQ virtual host of its own per test, so queues, exchanges and error queues never mix between tests.</summary>
public sealed class RabbitVhost : IAsyncDisposable
{
    private readonly HttpClient _management;

    private RabbitVhost(string name, HttpClient management) { Name = name; _management = management; }

    public string Name { get; }
    public Uri AmqpUri => new UriBuilder(TestServices.RabbitUri) { Path = "/" + Uri.EscapeDataString(Name) }.Uri;

    public static async Task<RabbitVhost> CreateAsync()
    {
        var client = new HttpClient { BaseAddress = TestServices.RabbitManagementUri, Timeout = TimeSpan.FromSeconds(30) };
        var (user, password) = TestServices.RabbitCredentials;
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        var name = "nfc-test-" + Guid.NewGuid().ToString("N")[..10];
        try
        {
            (await client.PutAsync($"api/vhosts/{name}", null)).EnsureSuccessStatusCode();
            (await client.PutAsJsonAsync($"api/permissions/{name}/{Uri.EscapeDataString(user)}", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        }
        catch (HttpRequestException ex)
        {
            throw TestServices.Unavailable("RabbitMQ management", TestServices.RabbitManagementUri.ToString(), ex);
        }
        return new RabbitVhost(name, client);
    }

    /// <summary>Messages waiting in a queue of this vhost, or 0 when the queue does not exist.</summary>
    public async Task<long> QueueDepthAsync(string queue)
    {
        var response = await _management.GetAsync($"api/queues/{Name}/{Uri.EscapeDataString(queue)}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return 0;
        response.EnsureSuccessStatusCode();
        var info = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        return info.TryGetProperty("messages", out var m) ? m.GetInt64() : 0;
    }

    /// <summary>A queue's type ("classic", "quorum"), or null when the queue does not exist.</summary>
    public async Task<string?> QueueTypeAsync(string queue)
    {
        var response = await _management.GetAsync($"api/queues/{Name}/{Uri.EscapeDataString(queue)}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        var info = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        return info.TryGetProperty("type", out var t) ? t.GetString() : null;
    }

    /// <summary>The prefetch of each consumer of a queue (empty when it has none, or the queue does not exist).</summary>
    public async Task<IReadOnlyList<int>> ConsumerPrefetchesAsync(string queue)
    {
        var response = await _management.GetAsync($"api/queues/{Name}/{Uri.EscapeDataString(queue)}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return [];
        response.EnsureSuccessStatusCode();
        var info = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        return info.TryGetProperty("consumer_details", out var consumers)
            ? consumers.EnumerateArray().Select(c => c.GetProperty("prefetch_count").GetInt32()).ToList() : [];
    }

    /// <summary>
    /// Makes the broker refuse (nack) every message published to <paramref name="exchange"/>: the exchange, as MassTransit
    /// declares it, bound to a queue of length 0 that rejects what overflows it. <see cref="DeleteQueueAsync"/> undoes it.
    /// </summary>
    public async Task RefusePublishesAsync(string exchange, string queue)
    {
        (await _management.PutAsJsonAsync($"api/exchanges/{Name}/{Uri.EscapeDataString(exchange)}", new { type = "fanout", durable = true })).EnsureSuccessStatusCode();
        var arguments = new Dictionary<string, object> { ["x-max-length"] = 0, ["x-overflow"] = "reject-publish" };
        (await _management.PutAsJsonAsync($"api/queues/{Name}/{Uri.EscapeDataString(queue)}", new { durable = true, arguments })).EnsureSuccessStatusCode();
        (await _management.PostAsJsonAsync($"api/bindings/{Name}/e/{Uri.EscapeDataString(exchange)}/q/{Uri.EscapeDataString(queue)}", new { })).EnsureSuccessStatusCode();
    }

    /// <summary>A durable queue bound to a fanout exchange (as MassTransit declares a message type's).</summary>
    public async Task BindQueueAsync(string exchange, string queue)
    {
        (await _management.PutAsJsonAsync($"api/exchanges/{Name}/{Uri.EscapeDataString(exchange)}", new { type = "fanout", durable = true })).EnsureSuccessStatusCode();
        (await _management.PutAsJsonAsync($"api/queues/{Name}/{Uri.EscapeDataString(queue)}", new { durable = true })).EnsureSuccessStatusCode();
        (await _management.PostAsJsonAsync($"api/bindings/{Name}/e/{Uri.EscapeDataString(exchange)}/q/{Uri.EscapeDataString(queue)}", new { })).EnsureSuccessStatusCode();
    }

    public async Task DeleteQueueAsync(string queue) =>
        (await _management.DeleteAsync($"api/queues/{Name}/{Uri.EscapeDataString(queue)}")).EnsureSuccessStatusCode();

    public async ValueTask DisposeAsync()
    {
        try { await _management.DeleteAsync($"api/vhosts/{Name}"); }
        catch (HttpRequestException) { }
        _management.Dispose();
    }
}
