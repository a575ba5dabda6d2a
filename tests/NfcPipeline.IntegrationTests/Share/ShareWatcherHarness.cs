using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Migrations;
using NfcPipeline.Worker.Share;

namespace NfcPipeline.IntegrationTests.Share;

/// <summary>The SubmitStudy messages one test received. Other tests publish on the same broker, so only study ids
/// that start with this test's token are kept.</summary>
public sealed class SubmissionRecorder(string token)
{
    private readonly ConcurrentQueue<SubmitStudy> _messages = new();

    public IReadOnlyList<SubmitStudy> Messages => _messages.ToArray();

    public void Add(SubmitStudy message)
    {
        if (message.StudyId.StartsWith(token, StringComparison.Ordinal)) _messages.Enqueue(message);
    }
}

/// <summary>The watcher's log lines (its own category only), for what it says of each submission.</summary>
public sealed class WatcherLog : Microsoft.Extensions.Logging.ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(categoryName == typeof(ShareWatcherService).FullName ? _lines : null);

    public void Dispose() { }

    private sealed class Logger(ConcurrentQueue<string>? lines) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => lines is not null;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter) => lines?.Enqueue(formatter(state, exception));
    }
}

public sealed class RecordingSubmitStudyConsumer(SubmissionRecorder recorder) : IConsumer<SubmitStudy>
{
    public Task Consume(ConsumeContext<SubmitStudy> context)
    {
        recorder.Add(context.Message);
        return Task.CompletedTask;
    }
}

/// <summary>
/// One test's world: a migrated database, a temporary share root, and watcher hosts on the real broker with short
/// intervals. Queue names carry a per-host prefix and are auto-deleted, so concurrent tests do not share queues.
/// </summary>
public sealed class ShareWatcherHarness : IAsyncDisposable
{
    private readonly List<IHost> _hosts = [];

    private ShareWatcherHarness(TestDatabase db, string token)
    {
        Db = db;
        Token = token;
        Root = Path.Combine(Path.GetTempPath(), $"nfc-share-{token}");
        Recorder = new SubmissionRecorder(token);
    }

    public TestDatabase Db { get; }
    /// <summary>Unique per test; study folder names start with it.</summary>
    public string Token { get; }
    public string Root { get; }
    public SubmissionRecorder Recorder { get; }
    public WatcherLog Log { get; } = new();

    public static async Task<ShareWatcherHarness> CreateAsync(bool createRoot = true)
    {
        var db = await TestDatabase.CreateAsync();
        await new MigrationRunner(db.ConnectionString).ApplyAsync(MigrationSource.FromDirectory(Path.Combine(TestServices.RepoRoot, "migrations")));
        var harness = new ShareWatcherHarness(db, "t" + Guid.NewGuid().ToString("N")[..10]);
        if (createRoot) Directory.CreateDirectory(harness.Root);
        return harness;
    }

    /// <summary>Starts a worker host running the share watcher; the first one also records SubmitStudy.</summary>
    /// <param name="broker">Another broker address; an unreachable one makes every publish fail.</param>
    /// <param name="services">Registrations made before the watcher's own (which only fill in what is missing).</param>
    public async Task<IHost> StartWatcherAsync(Dictionary<string, string?>? settings = null, bool record = true, Uri? broker = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder();
        var configuration = new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = Db.ConnectionString,
            ["Share:Root"] = Root,
            ["Share:PollInterval"] = "00:00:00.200",
            ["Share:SettleTime"] = "00:00:00.500",
            ["Share:TriggerCheckInterval"] = "00:00:00.100",
            ["Share:PublishTimeout"] = "00:00:10",
        };
        foreach (var (key, value) in settings ?? []) configuration[key] = value;
        builder.Configuration.AddInMemoryCollection(configuration);

        // The bus starts (and binds the recorder's queue) before the watcher's first scan.
        builder.Services.Configure<MassTransitHostOptions>(o => { o.WaitUntilStarted = broker is null; o.StartTimeout = TimeSpan.FromSeconds(60); });
        builder.Services.AddSingleton(Recorder);
        var prefix = $"{Token}-{_hosts.Count}";
        builder.Services.AddMassTransit(x =>
        {
            x.SetEndpointNameFormatter(new DefaultEndpointNameFormatter(prefix + "-", false));
            x.AddShareWatcherConsumers();
            if (record) x.AddConsumer<RecordingSubmitStudyConsumer>();
            x.AddConfigureEndpointsCallback((_, endpoint) =>
            {
                if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit) rabbit.AutoDelete = true;
            });
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(broker ?? TestServices.RabbitUri);
                cfg.ConfigureEndpoints(context);
            });
        });
        services?.Invoke(builder.Services);
        builder.AddShareWatcher();
        builder.Logging.AddProvider(Log);

        var host = builder.Build();
        try { await host.StartAsync(); }
        catch (Exception ex) when (ex is not Microsoft.Extensions.Options.OptionsValidationException)
        {
            host.Dispose();
            throw TestServices.Unavailable("RabbitMQ", TestServices.RabbitUri.ToString(), ex);
        }
        _hosts.Add(host);
        return host;
    }

    /// <summary>A study folder whose files were last written an hour ago, so it is settled.</summary>
    public string AddSettledStudy(string name, string? manifestStudyId = null, int images = 2)
    {
        var folder = Path.Combine(Root, name);
        for (var i = 0; i < images; i++) WriteOld(Path.Combine(folder, "P001", i % 2 == 0 ? "L2" : "R3", $"field{i}.jpg"), $"image {i}");
        if (manifestStudyId is null) WriteOld(Path.Combine(folder, "READY"), "");
        else WriteOld(Path.Combine(folder, "study.json"), $$"""{"study_id":"{{manifestStudyId}}","um_per_px":2.0}""");
        foreach (var dir in Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories).Append(folder))
            Directory.SetLastWriteTimeUtc(dir, DateTime.UtcNow.AddHours(-1));
        return folder;
    }

    public static void WriteOld(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-1));
        Directory.SetLastWriteTimeUtc(Path.GetDirectoryName(path)!, DateTime.UtcNow.AddHours(-1));
    }

    public Task<long> ScanCountAsync() => Db.ScalarAsync<long>("select count(*) from share_scans where finished_at is not null");

    /// <summary>Waits until <paramref name="condition"/> holds; fails with <paramref name="what"/> after the timeout.</summary>
    public static async Task Eventually(Func<Task<bool>> condition, string what, double seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out after {seconds} s waiting for: {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until the watchers have finished <paramref name="more"/> further scans.</summary>
    public async Task WaitForMoreScansAsync(int more, double seconds = 20)
    {
        var target = await ScanCountAsync() + more;
        await Eventually(async () => await ScanCountAsync() >= target, $"{more} more scans", seconds);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        await Db.DisposeAsync();
    }
}

/// <summary>
/// A share whose listing hangs until released, as a call into a hard-mounted network share whose server is gone does:
/// such a mount cannot be made here, so the scanner stands in for it, and it ignores cancellation as that call would.
/// </summary>
public sealed class HangingShareScanner(TimeProvider clock) : NfcPipeline.Intake.Share.ShareScanner(clock)
{
    private readonly ManualResetEventSlim _released = new();
    private int _calls;

    public volatile bool Hanging = true;
    /// <summary>A slow share instead: this many folders read before the real scan, 0.4 s each.</summary>
    public int SlowSteps { get; init; }
    public int Calls => Volatile.Read(ref _calls);

    public void Release()
    {
        Hanging = false;
        _released.Set();
    }

    public override NfcPipeline.Intake.Share.ShareScan Scan(string root, NfcPipeline.Intake.Share.ShareScanOptions options, CancellationToken ct = default)
    {
        Interlocked.Increment(ref _calls);
        if (Hanging) _released.Wait(TimeSpan.FromMinutes(2));
        for (var i = 0; i < SlowSteps; i++)
        {
            Thread.Sleep(400);
            options.Progress?.Advance();
        }
        return base.Scan(root, options, ct);
    }
}
