using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Worker;

namespace NfcPipeline.IntegrationTests;

public class WorkerStartupTests
{
    [Fact]
    public async Task Worker_applies_migrations_at_start_up_when_configured()
    {
        await using var db = await TestDatabase.CreateAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = db.ConnectionString,
            ["Storage:MigrateOnStartup"] = "true",
            ["Worker:Enabled"] = "false",   // a migrate-only host: no model, no bus
        });
        builder.AddPipelineServices();
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();

        Assert.Equal(NfcPipeline.Storage.Migrations.MigrationSource.Embedded().Count, await db.ScalarAsync<long>("select count(*) from schema_migrations"));
    }

    [Fact]
    public async Task Migrations_at_start_up_wait_for_a_database_that_comes_up_late()
    {
        // A database restarting during a deploy stopped the worker at once with a stack trace.
        await using var db = await TestDatabase.CreateAsync();
        var real = new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString);
        int port = FreePort();
        var late = new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString) { Host = "127.0.0.1", Port = port };
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = late.ConnectionString,
            ["Storage:MigrateOnStartup"] = "true",
            ["Worker:Enabled"] = "false",
        });
        builder.AddPipelineServices();
        using var host = builder.Build();

        var starting = host.StartAsync();
        await Task.Delay(2500);
        Assert.False(starting.IsCompleted, starting.Exception?.ToString());
        using var forwarder = new TcpForwarder(port, real.Host!, real.Port);   // the database "comes up"
        await starting.WaitAsync(TimeSpan.FromSeconds(60));
        await host.StopAsync();

        Assert.Equal(NfcPipeline.Storage.Migrations.MigrationSource.Embedded().Count, await db.ScalarAsync<long>("select count(*) from schema_migrations"));
    }

    private static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    /// <summary>Forwards connections on a loopback port to another address, from when it is made until disposed.</summary>
    private sealed class TcpForwarder : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();

        public TcpForwarder(int port, string targetHost, int targetPort)
        {
            _listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var target = new System.Net.Sockets.TcpClient();
                    await target.ConnectAsync(targetHost, targetPort, _stop.Token);
                    _ = Pipe(client, target);
                }
            });
        }

        private async Task Pipe(System.Net.Sockets.TcpClient a, System.Net.Sockets.TcpClient b)
        {
            using (a) using (b)
            {
                try { await Task.WhenAny(a.GetStream().CopyToAsync(b.GetStream(), _stop.Token), b.GetStream().CopyToAsync(a.GetStream(), _stop.Token)); }
                catch (Exception) { }   // either end closing ends the pair
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }

    [Fact]
    public async Task Worker_leaves_the_schema_alone_when_not_configured_to_migrate()
    {
        await using var db = await TestDatabase.CreateAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = db.ConnectionString,
            ["Storage:MigrateOnStartup"] = "false",
            ["Worker:Enabled"] = "false",
        });
        builder.AddPipelineServices();
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();

        Assert.False(await db.ScalarAsync<bool>("select to_regclass('public.schema_migrations') is not null"));
    }

    [Fact]
    public async Task The_worker_process_as_a_migrate_only_host_migrates_and_keeps_serving_its_health_endpoint()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["Storage__ConnectionString"] = db.ConnectionString,
            ["Storage__MigrateOnStartup"] = "true",
            ["Worker__Enabled"] = "false",
        });
        var expected = NfcPipeline.Storage.Migrations.MigrationSource.Embedded().Count;
        await Pipeline.PipelineEnvironment.WaitUntilAsync(async () => worker.HasExited
                ? throw new InvalidOperationException("the migrate-only worker exited:\n" + worker.Output)
                : await db.ScalarAsync<bool>("select to_regclass('public.schema_migrations') is not null")
                  && await db.ScalarAsync<long>("select count(*) from schema_migrations") == expected,
            TimeSpan.FromSeconds(60), () => worker.Output);

        // Migrated, still running, and answering on its health endpoint (no model, no bus: nothing for /ready to wait on).
        Assert.Equal((200, "Healthy"), await worker.GetHealthAsync("/health/live", TimeSpan.FromSeconds(30)));
        Assert.False(worker.HasExited, worker.Output);
    }

    [Fact]
    public void A_health_endpoint_off_loopback_is_refused_for_a_migrate_only_host_too()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:Enabled"] = "false",
            ["Worker:HealthUrls"] = "http://0.0.0.0:5081",
            ["Kestrel:Endpoints:health:Url"] = "http://[::]:5082",   // would override Worker:HealthUrls
        });

        var error = Assert.Throws<WorkerConfigurationException>(() => builder.AddPipelineServices());
        Assert.Contains("Worker:HealthUrls 'http://0.0.0.0:5081' is not a loopback address; the health endpoints have no authentication.", error.Problems);
        Assert.Contains("Kestrel:Endpoints:health:Url 'http://[::]:5082' is not a loopback address; the health endpoints have no authentication.", error.Problems);

        // None at all would leave Kestrel to its default, every interface.
        var empty = Host.CreateApplicationBuilder();
        empty.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Worker:Enabled"] = "false", ["Worker:HealthUrls"] = " ; " });
        Assert.Contains("Worker:HealthUrls is empty; give a loopback URL such as http://127.0.0.1:5081.",
            Assert.Throws<WorkerConfigurationException>(() => empty.AddPipelineServices()).Problems);
    }

    [Fact]
    public async Task A_worker_joining_live_workers_of_another_model_warns_in_its_log()
    {
        await using var env = await Pipeline.PipelineEnvironment.CreateAsync();
        await env.Db.ScalarAsync<int>("insert into workers (id, host, pid, model_sha256) values ('elsewhere:9:0', 'elsewhere', 9, '\\x01'::bytea); select 1");
        var worker = await env.StartWorkerAsync();
        await Pipeline.PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.Output.Contains("1 live worker(s) on this database run another model")),
            TimeSpan.FromSeconds(30), () => worker.Output);

        // Registrations one at a time (Worker:RegistrationConcurrency), chunks up to Worker:PrefetchCount.
        await Pipeline.PipelineEnvironment.WaitUntilAsync(async () => (await env.Vhost.ConsumerPrefetchesAsync("submit-study")).Count > 0,
            TimeSpan.FromSeconds(30), () => worker.Output);
        Assert.Equal([1], await env.Vhost.ConsumerPrefetchesAsync("submit-study"));
        Assert.Equal([8], await env.Vhost.ConsumerPrefetchesAsync("analyze-images"));
    }

    [Fact]
    public async Task Settings_that_cannot_run_stop_the_worker_with_each_problem_named_and_exit_code_1()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["Storage__ConnectionString"] = db.ConnectionString,
            ["Worker__ChunkSize"] = "0",
            ["Worker__PrefetchCount"] = "0",
            ["Worker__RegistrationConcurrency"] = "0",
            ["Worker__StopTimeout"] = "00:00:00",
            ["Worker__StrandedAfter"] = "00:00:00",
            ["Worker__StrandedSweepInterval"] = "2",   // a bare number is days
            ["Inference__Device"] = "gpu",
            ["Inference__Decoder__MaskThreshold"] = "2",
            ["Inference__MaxInputPixels"] = "100000000",
            ["Inference__Batching__MaxConcurrentBatches"] = "-1",
            ["Worker__HeartbeatInterval"] = "5",   // a bare number is days
            ["Worker__HealthUrls"] = "http://0.0.0.0:5081",
            ["Kestrel__Endpoints__health__Url"] = "http://192.0.2.1:5082",
            ["Analysis__Categories__hairpin"] = "pretty",
        });
        await Pipeline.PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.HasExited), TimeSpan.FromSeconds(60), () => worker.Output);

        Assert.Equal(1, await worker.StopAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("refusing to start", worker.Output);
        Assert.Contains("Worker:ChunkSize must be 1 to 256, got 0.", worker.Output);
        Assert.Contains("Worker:PrefetchCount must be 1 to 65535", worker.Output);
        Assert.Contains("Worker:RegistrationConcurrency must be 1 to 16, got 0.", worker.Output);
        Assert.Contains("Worker:StopTimeout must be positive", worker.Output);
        Assert.Contains("Worker:StrandedAfter must be 1 second to 7 days (hh:mm:ss), got 00:00:00.", worker.Output);
        Assert.Contains("Worker:StrandedSweepInterval must be 1 second to 1 day (hh:mm:ss), got 2.00:00:00.", worker.Output);
        Assert.Contains("Inference:Decoder:MaskThreshold must be in (0, 1), got 2.", worker.Output);
        Assert.Contains("Inference:MaxInputPixels must be 1 to 67108864", worker.Output);
        Assert.Contains("Inference:Device: Unknown device 'gpu'", worker.Output);
        Assert.Contains("Inference:Batching: MaxConcurrentBatches", worker.Output);
        Assert.Contains("Worker:HeartbeatInterval must be 1 second to under 2 minutes", worker.Output);
        Assert.Contains("Worker:HealthUrls 'http://0.0.0.0:5081' is not a loopback address", worker.Output);
        Assert.Contains("Kestrel:Endpoints:health:Url 'http://192.0.2.1:5082' is not a loopback address", worker.Output);
        Assert.Contains("Analysis:Categories:hairpin must be one of", worker.Output);
        Assert.Contains("Worker:ShareRoot (or Share:Root) is not set", worker.Output);
        Assert.DoesNotContain("   at ", worker.Output);   // no stack trace
    }

    [Fact]
    public async Task Values_that_do_not_parse_stop_the_worker_named_without_a_stack_trace()
    {
        // Each was an unhandled exception (exit 134) or, for Share:*, a stack trace after the model had loaded.
        await using var db = await TestDatabase.CreateAsync();
        await using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["Storage__ConnectionString"] = db.ConnectionString,
            ["Worker__StopTimeout"] = "60s",
            ["Inference__MaxConcurrentRuns"] = "two",
            ["Share__PollInterval"] = "abc",
            // Parses as a URI of scheme "localhost": MassTransit refused it only when the bus started.
            ["Messaging__RabbitUri"] = "localhost:5672",
            // An unhandled exception after the checks; a typo ran on the default (no migrations, the default broker).
            ["Storage__MigrateOnStartup"] = "yes",
            ["Storage__MigrateOnStatup"] = "true",
            ["Messaging__RabbitUrl"] = "amqp://nfc@127.0.0.1:5672/",
        });
        await Pipeline.PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.HasExited), TimeSpan.FromSeconds(60), () => worker.Output);

        Assert.Equal(1, await worker.StopAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("refusing to start", worker.Output);
        Assert.Contains("'Worker:StopTimeout'", worker.Output);
        Assert.Contains("'Inference:MaxConcurrentRuns'", worker.Output);
        Assert.Contains("'Share:PollInterval'", worker.Output);
        Assert.Contains("Messaging:RabbitUri (or NFC_RABBIT_URI) is not usable: The RabbitMQ URI must be amqp:// or amqps:// with a host", worker.Output);
        Assert.Contains("'Storage:MigrateOnStartup'", worker.Output);
        Assert.Contains("Storage:MigrateOnStatup is not a setting (a typo? it would be ignored).", worker.Output);
        Assert.Contains("Messaging:RabbitUrl is not a setting (a typo? it would be ignored).", worker.Output);
        Assert.DoesNotContain("   at ", worker.Output);

        // In range but a month: refused before the start too (a bare number binds as days).
        await using var month = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["Storage__ConnectionString"] = db.ConnectionString, ["Share__SettleTime"] = "30",
            // Set empty in an environment file: Share:Root stands in for it, as when unset.
            ["Worker__ShareRoot"] = "", ["Share__Root"] = Path.GetTempPath(),
        });
        await Pipeline.PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(month.HasExited), TimeSpan.FromSeconds(60), () => month.Output);
        Assert.Equal(1, await month.StopAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("Share:SettleTime must be 0 to a day (hh:mm:ss), got 30.00:00:00.", month.Output);
        Assert.DoesNotContain("Worker:ShareRoot (or Share:Root) is not set", month.Output);
        Assert.DoesNotContain("   at ", month.Output);

        // A connection string Npgsql cannot read is named, its password not shown.
        await using var unusable = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["Storage__ConnectionString"] = "Host=127.0.0.1;Pasword=secret-value", ["Worker__ShareRoot"] = Path.GetTempPath(),
        });
        await Pipeline.PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(unusable.HasExited), TimeSpan.FromSeconds(60), () => unusable.Output);
        Assert.Equal(1, await unusable.StopAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("Storage:ConnectionString (or NFC_PG_CONNECTION) is not usable:", unusable.Output);
        Assert.DoesNotContain("secret-value", unusable.Output);
        Assert.DoesNotContain("   at ", unusable.Output);
    }

    [Fact]
    public async Task A_worker_stopped_while_it_warms_up_exits_cleanly()
    {
        await using var env = await Pipeline.PipelineEnvironment.CreateAsync();
        var settings = env.WorkerSettings();
        settings["Inference__Batching__MaxBatchSize"] = "32";   // a warm-up of seconds on these hosts
        await using var worker = WorkerProcess.Start(settings);
        await Pipeline.PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.Output.Contains("Warming up at")),
            TimeSpan.FromSeconds(60), () => worker.Output);

        var code = await worker.StopAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"exit code {code}: {worker.Output}");
        Assert.Contains("stopped while starting", worker.Output);
        Assert.DoesNotContain("Unhandled exception", worker.Output);   // the host still logs its cancelled start
    }

    [Fact]
    public async Task With_the_broker_down_at_start_the_worker_is_live_and_reports_itself_not_ready()
    {
        // It waited for the broker before its health endpoints listened: no answer at all, and a liveness probe
        // would restart it in a loop.
        await using var env = await Pipeline.PipelineEnvironment.CreateAsync();
        var settings = env.WorkerSettings();
        settings["Messaging__RabbitUri"] = "amqp://guest:guest@127.0.0.1:1/";
        await using var worker = WorkerProcess.Start(settings);

        Assert.Equal(200, (await worker.GetHealthAsync("/health/live", TimeSpan.FromSeconds(90))).Status);
        Assert.Equal(503, (await worker.GetHealthAsync("/health/ready", TimeSpan.FromSeconds(30))).Status);
        Assert.False(worker.HasExited, worker.Output);
    }

    [Fact]
    public async Task A_model_that_cannot_be_loaded_stops_the_worker_with_the_reason_and_exit_code_1()
    {
        await using var db = await TestDatabase.CreateAsync();
        await new NfcPipeline.Storage.Migrations.MigrationRunner(db.ConnectionString).ApplyAsync(NfcPipeline.Storage.Migrations.MigrationSource.Embedded());
        await using var vhost = await RabbitVhost.CreateAsync();
        await using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["Storage__ConnectionString"] = db.ConnectionString,
            ["Messaging__RabbitUri"] = vhost.AmqpUri.ToString(),
            ["Inference__ModelPath"] = "/no/such/model.onnx",
            ["Worker__ShareRoot"] = Path.GetTempPath(),
        });
        await Pipeline.PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.HasExited), TimeSpan.FromSeconds(60), () => worker.Output);

        Assert.Equal(1, await worker.StopAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("refusing to start: Inference:ModelPath:", worker.Output);
        Assert.DoesNotContain("   at ", worker.Output);   // was an unhandled exception's stack trace
    }

    [Fact]
    public async Task A_share_root_other_than_the_watched_one_stops_the_worker()
    {
        // The watcher publishes folders relative to Share:Root, intake resolves them under Worker:ShareRoot: with two
        // roots every watched study was refused and retried, each retry one more message in submit-study_error.
        var other = Directory.CreateTempSubdirectory("nfc-other-share-");
        try
        {
            await using var worker = WorkerProcess.Start(new Dictionary<string, string>
            {
                ["Storage__ConnectionString"] = "Host=127.0.0.1;Port=1;Database=none",
                ["Worker__ShareRoot"] = Path.GetTempPath(),
                ["Share__Root"] = other.FullName,
            });
            await Pipeline.PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.HasExited), TimeSpan.FromSeconds(60), () => worker.Output);
            Assert.Equal(1, await worker.StopAsync(TimeSpan.FromSeconds(5)));
            Assert.Contains($"Share:Root '{other.FullName}' differ", worker.Output);
        }
        finally { other.Delete(); }
    }
}
