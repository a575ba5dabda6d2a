using Dapper;
using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.Imaging;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Migrations;
using Npgsql;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// One isolated pipeline for a test: its own database (migrated), RabbitMQ vhost and share folder, workers started as
/// real processes on the dense_colour fixture model, and a bus to submit studies with.
/// </summary>
public sealed class PipelineEnvironment : IAsyncDisposable
{
    public static readonly string FixtureModel = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "dense_colour.onnx");

    private readonly List<WorkerProcess> _workers = [];
    private IBusControl? _bus;

    private PipelineEnvironment(TestDatabase db, RabbitVhost vhost, DirectoryInfo share) { Db = db; Vhost = vhost; Share = share; }

    public TestDatabase Db { get; }
    public RabbitVhost Vhost { get; }
    public DirectoryInfo Share { get; }
    public IReadOnlyList<WorkerProcess> Workers => _workers;

    public static async Task<PipelineEnvironment> CreateAsync()
    {
        var db = await TestDatabase.CreateAsync();
        await new MigrationRunner(db.ConnectionString).ApplyAsync(MigrationSource.Embedded());
        return new PipelineEnvironment(db, await RabbitVhost.CreateAsync(), Directory.CreateTempSubdirectory("nfc-share-"));
    }

    public Dictionary<string, string> WorkerSettings(string? model = null) => new()
    {
        ["Storage__ConnectionString"] = Db.ConnectionString,
        ["Storage__MigrateOnStartup"] = "false",
        ["Messaging__RabbitUri"] = Vhost.AmqpUri.ToString(),
        ["Worker__ShareRoot"] = Share.FullName,
        ["Worker__ChunkSize"] = "2",
        ["Worker__RepublishAfter"] = "00:00:03",
        ["Worker__DatabaseRetryBudget"] = "00:01:30",
        ["Inference__ModelPath"] = model ?? FixtureModel,
        ["Inference__IntraOpThreads"] = "1",
    };

    public async Task<WorkerProcess> StartWorkerAsync(IDictionary<string, string>? overrides = null)
    {
        var settings = WorkerSettings();
        foreach (var (k, v) in overrides ?? new Dictionary<string, string>()) settings[k] = v;
        var worker = WorkerProcess.Start(settings);
        _workers.Add(worker);
        // Ready when it has registered itself (model loaded) and its bus is up (consumer queues exist).
        await WaitUntilAsync(async () => worker.HasExited ? throw new InvalidOperationException("worker exited:\n" + worker.Output)
            : await Db.ScalarAsync<long>($"select count(*) from workers where pid = {worker.Pid}") > 0, TimeSpan.FromSeconds(60), () => worker.Output);
        await WaitUntilAsync(async () => worker.Output.Contains("Bus started", StringComparison.Ordinal) || await Task.FromResult(false),
            TimeSpan.FromSeconds(60), () => worker.Output);
        return worker;
    }

    public Task SubmitAsync(SubmitStudy message) => PublishAsync(message);

    /// <param name="messageId">The envelope's message id, as a redelivery of an earlier message carries it; else a new one.</param>
    public async Task PublishAsync<T>(T message, Guid? messageId = null) where T : class
    {
        if (_bus is null)
        {
            _bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(Vhost.AmqpUri));
            await _bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }
        await _bus.Publish(message, context => { if (messageId is { } id) context.MessageId = id; });
    }

    /// <summary>Writes a study of PNG images with two marked capillaries each (see ColourStudy) under the share.</summary>
    public IReadOnlyList<string> WriteStudy(string folder, int patients, int imagesPerPatient, int width = 256, int height = 192)
    {
        var written = new List<string>();
        string[] fingers = ["L2", "L3", "L4", "L5", "R2", "R3", "R4", "R5"];
        for (int p = 0; p < patients; p++)
            for (int i = 0; i < imagesPerPatient; i++)
            {
                var relative = $"P{p + 1:D3}/{fingers[i % fingers.Length]}/field{i / fingers.Length + 1}.png";
                var path = Path.Combine(Share.FullName, folder, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllBytes(path, PngEncoder.Encode(ColourStudy.Image(width, height, seed: p * 1000 + i)));
                written.Add(relative);
            }
        File.WriteAllText(Path.Combine(Share.FullName, folder, "study.json"), """{"um_per_px": 2.0, "device": "test"}""");
        return written;
    }

    public async Task<string> WaitForStudyAsync(string externalId, TimeSpan timeout)
    {
        string? state = null;
        await WaitUntilAsync(async () =>
        {
            await using var c = new NpgsqlConnection(Db.ConnectionString);
            state = await c.ExecuteScalarAsync<string?>("select state from studies where external_id = @Id", new { Id = externalId });
            return state is "completed" or "completed_with_errors" or "failed";
        }, timeout, () => $"study state {state}; workers:\n" + string.Join("\n---\n", _workers.Select(w => w.Output)));
        return state!;
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try { if (await condition()) return; }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Condition not met within {timeout}. {diagnostics?.Invoke()}");
            await Task.Delay(100);
        }
    }

    public async Task<T> QueryScalarAsync<T>(string sql, object? args = null)
    {
        await using var c = new NpgsqlConnection(Db.ConnectionString);
        return await c.ExecuteScalarAsync<T>(sql, args) ?? throw new InvalidOperationException("null result: " + sql);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers) await worker.DisposeAsync();
        if (_bus is not null) await _bus.StopAsync();
        await Vhost.DisposeAsync();
        await Db.DisposeAsync();
        Share.Delete(recursive: true);
    }
}
