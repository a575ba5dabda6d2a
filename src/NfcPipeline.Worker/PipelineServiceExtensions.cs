using NfcPipeline.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;
using NfcPipeline.Inference;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Storage;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Worker.Analysis;
using NfcPipeline.Worker.Completion;
using NfcPipeline.Worker.Hosting;
using NfcPipeline.Worker.Registration;
using NfcPipeline.Intake.Share;
using NfcPipeline.Worker.Share;
using Npgsql;

namespace NfcPipeline.Worker;

public static class PipelineServiceExtensions
{
    /// <summary>
    /// The worker: start-up migration, the model, the RabbitMQ consumers, heartbeats and the outbox. Hosted services
    /// start in this order and stop in reverse: the bus stops consuming and finishes its messages before the batcher drains.
    /// </summary>
    public static IHostApplicationBuilder AddPipelineServices(this IHostApplicationBuilder builder)
    {
        var config = builder.Configuration;
        builder.Services.Configure<StorageOptions>(config.GetSection(StorageOptions.Section));
        builder.Services.AddHostedService<StartupMigrationService>();
        // Before the early return: a migrate-only host maps /health/live too (Program.cs maps both endpoints).
        var health = builder.Services.AddHealthChecks();
        var problems = new List<string>();
        // A value the binder cannot convert ("60s", "yes") is a problem named like the others, not a stack trace.
        T Bind<T>(string section, Func<IConfiguration, T?> read, T fallback)
        {
            try { return read(config.GetSection(section)) ?? fallback; }
            catch (InvalidOperationException ex) { problems.Add(ex.InnerException is { } inner ? $"{ex.Message} {inner.Message}" : ex.Message); return fallback; }
        }
        // An options section, with the keys no option of it reads named (a typo ran on the default). alsoRead: keys read elsewhere.
        T BindOptions<T>(string section, params string[] alsoRead) where T : class, new()
        {
            problems.AddRange(UnknownSettings.Of(config.GetSection(section), typeof(T), alsoRead));
            return Bind(section, s => s.Get<T>(), new T());
        }
        // Storage and Messaging too, for a migrate-only host as well: "yes" for a flag crashed the start with a stack
        // trace, and a mistyped key (MigrateOnStatup, RabbitUrl) ran on the default unsaid.
        var storage = BindOptions<StorageOptions>(StorageOptions.Section);
        try { _ = new NpgsqlConnectionStringBuilder(storage.ResolveConnectionString()); }
        catch (ArgumentException ex)
        {
            // The keyword it names, never the string (it holds the password).
            problems.Add($"Storage:ConnectionString (or NFC_PG_CONNECTION) is not usable: {ex.Message}");
        }
        problems.AddRange(UnknownSettings.Of(config.GetSection("Messaging"), typeof(object), "RabbitUri"));
        if (!Bind<bool>("Worker", s => s.GetValue("Enabled", true), true))
        {
            // Only where the health endpoints listen matters to a migrate-only host.
            problems.AddRange(WorkerOptions.HealthUrlsProblems(config["Worker:HealthUrls"] ?? new WorkerOptions().HealthUrls)
                .Concat(WorkerOptions.KestrelEndpointProblems(config)));
            if (problems.Count > 0) throw new WorkerConfigurationException(problems);
            return builder;
        }

        var options = BindOptions<WorkerOptions>(WorkerOptions.Section, "Enabled");
        // The watcher publishes folders relative to Share:Root and intake resolves them under Worker:ShareRoot: two
        // different roots would refuse every watched study.
        if (options.ShareRoot is { Length: > 0 } workerRoot && config["Share:Root"] is { Length: > 0 } watchedRoot
            && Path.GetFullPath(workerRoot).TrimEnd('/') != Path.GetFullPath(watchedRoot).TrimEnd('/'))
            problems.Add($"Worker:ShareRoot '{workerRoot}' and Share:Root '{watchedRoot}' differ: the watcher's folders are relative to Share:Root, " +
                "so set one of them, or both to the same folder.");
        // Empty counts as unset (Worker__ShareRoot= in an environment file binds "", which ??= kept over Share:Root).
        if (string.IsNullOrWhiteSpace(options.ShareRoot)) options.ShareRoot = config["Share:Root"];
        // Without it every image of every chunk this worker took would fail for good ("not configured", or "does not
        // exist in the share" for a mount point left empty), and the studies would complete with errors.
        if (string.IsNullOrWhiteSpace(options.ShareRoot))
            problems.Add("Worker:ShareRoot (or Share:Root) is not set: every submitted folder and image path is relative to it.");
        else if (!Directory.Exists(options.ShareRoot))
            problems.Add($"Worker:ShareRoot '{options.ShareRoot}' is not a folder that exists (is the share mounted?).");
        // Settings that cannot run stop the worker here, every problem named, before a model loads or a queue binds.
        var inferenceOptions = BindOptions<InferenceOptions>(InferenceOptions.Section, "Batching");
        var batchingOptions = BindOptions<DynamicBatcherOptions>(DynamicBatcherOptions.Section);
        var shareOptions = BindOptions<ShareWatcherOptions>(ShareWatcherOptions.Section);
        options.RequireShareMountPoint ??= shareOptions.RequireMountPoint;
        // Not whether it is mounted now (chunks wait for that), but whether that can be told at all: else every chunk would wait.
        if (options.RequireShareMountPoint == true && !File.Exists(MountPoints.MountInfoPath))
            problems.Add($"Worker:RequireShareMountPoint is set, but {MountPoints.MountInfoPath} is not there to tell mount points by.");
        problems.AddRange(options.Validate()
            .Concat(WorkerOptions.KestrelEndpointProblems(config))
            .Concat(inferenceOptions.Validate())
            .Concat(batchingOptions.Validate().Select(p => $"{DynamicBatcherOptions.Section}: {p}"))
            .Concat(shareOptions.Validate()));
        try { RabbitMqAddress.Resolve(config["Messaging:RabbitUri"]); }
        catch (UriFormatException ex)
        {
            problems.Add($"Messaging:RabbitUri (or NFC_RABBIT_URI) is not usable: {ex.Message}");
        }
        var analysis = AnalysisConfiguration.Read(config, problems);
        // One batch is one float array: its largest input must fit.
        if (batchingOptions.MaxBatchSize > inferenceOptions.LargestBatch)
            problems.Add($"Inference:MaxInputPixels × 3 × {DynamicBatcherOptions.Section}:MaxBatchSize must be at most {Array.MaxLength} " +
                $"(one batch is one float array), got {inferenceOptions.MaxInputPixels} × 3 × {batchingOptions.MaxBatchSize}.");
        if (problems.Count > 0) throw new WorkerConfigurationException(problems);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(analysis);
        builder.Services.Configure<InferenceOptions>(config.GetSection(InferenceOptions.Section));
        builder.Services.Configure<DynamicBatcherOptions>(config.GetSection(DynamicBatcherOptions.Section));

        builder.Services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ResolveConnectionString()));
        builder.Services.AddSingleton<StudyRegistrationStore>().AddSingleton<ModelStore>().AddSingleton<JobStore>()
            .AddSingleton<ResultStore>().AddSingleton<PatientResultsStore>().AddSingleton<CompletionEventStore>().AddSingleton<WorkerStore>();
        builder.Services.AddSingleton<WorkerIdentity>().AddSingleton<DatabaseRetry>().AddSingleton<WorkerMetrics>().AddSingleton<WorkerShutdown>()
            .AddSingleton<InferenceStreak>()
            .AddSingleton<ShareAvailability>()
            .AddSingleton<ChunkGate>().AddSingleton(sp => new ChunksInFlight(sp.GetService<TimeProvider>() ?? TimeProvider.System));
        builder.Services.AddSingleton<StudyIntake>().AddSingleton<CompletionEventPublisher>().AddSingleton<CompletionTracker>().AddScoped<WorkPublisher>();
        builder.Services.AddSingleton<ModelHost>().AddHostedService(sp => sp.GetRequiredService<ModelHost>());
        // Before the bus: hosted services stop in reverse, so the last heartbeat ("stopped") follows the bus's drain and
        // counts the chunks finished during it.
        builder.Services.AddHostedService<HeartbeatService>();

        builder.Services.AddMassTransit(bus =>
        {
            // Queues: submit-study, analyze-images, reaggregate-patient (and their _error queues), submit-study-fault,
            // analyze-images-fault.
            bus.SetKebabCaseEndpointNameFormatter();
            bus.AddConsumer<SubmitStudyConsumer>().Endpoint(e =>
            {
                e.PrefetchCount = options.RegistrationConcurrency;
                e.ConcurrentMessageLimit = options.RegistrationConcurrency;
            });
            bus.AddConsumer<AnalyzeImagesConsumer>(c => c.UseConcurrentMessageLimit(options.ConcurrentMessageLimit));
            bus.AddConsumer<SubmitStudyFaultConsumer>();
            bus.AddConsumer<AnalyzeImagesFaultConsumer>();
            bus.AddConsumer<ReaggregatePatientConsumer>();
            bus.AddShareWatcherConsumers();
            // Each consumer queue is declared by its own endpoint: the bus-level setting reaches only the bus's temporary
            // queue, so quorum is set here, per endpoint.
            if (options.QuorumQueues)
                bus.AddConfigureEndpointsCallback((_, _, endpoint) =>
                {
                    if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit) rabbit.SetQuorumQueue();
                });
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(RabbitMqAddress.Resolve(config["Messaging:RabbitUri"]));
                rabbit.PrefetchCount = options.PrefetchCount;
                // Retries after the in-process database retries: then the message goes to its _error queue.
                // A limit of 0 means no retry filter at all: MassTransit's exponential policy with no retries fails
                // inside itself (IndexOutOfRangeException) and the message's own fault never reached its consumer.
                if (options.MessageRetryLimit > 0)
                    rabbit.UseMessageRetry(r =>
                    {
                        r.Exponential(options.MessageRetryLimit, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2));
                        r.Ignore<InvalidSubmissionException>();
                        r.Ignore<InvalidWorkException>();
                    });
                rabbit.ConfigureEndpoints(context);
            });
        });
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            // Not waited for: with the broker down at start the host would hang before its health endpoints listen
            // (Kestrel starts after the hosted services); /health/ready reports the bus until it connects.
            o.WaitUntilStarted = false;
            // Chunks in flight get StopTimeout to finish (WorkerShutdown); the bus waits a little longer for them to
            // hand their jobs back.
            o.StopTimeout = options.StopTimeout + TimeSpan.FromSeconds(15);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.StopTimeout + TimeSpan.FromSeconds(30));
        // After the bus, so the watcher's first scan can publish.
        builder.AddShareWatcher();
        builder.Services.AddHostedService<OutboxDispatcher>();
        builder.Services.AddHostedService<HousekeepingService>();
        builder.Services.AddHostedService<StrandedCompletionSweep>();
        // Bounded: a half-open connection would hold the probe until its client gave up.
        health.AddCheck<DatabaseHealthCheck>("postgres", tags: ["ready"], timeout: TimeSpan.FromSeconds(5))
            .AddCheck<ModelHealthCheck>("model", tags: ["ready"])
            .AddCheck<InferenceHealthCheck>("inference", tags: ["ready"]);
        builder.Services.AddMetrics();
        return builder;
    }
}

/// <summary>Worker settings that cannot run; Program.cs prints them and exits 1.</summary>
public sealed class WorkerConfigurationException(IReadOnlyList<string> problems)
    : Exception("Invalid worker settings: " + string.Join(" ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
