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
        if (!config.GetValue("Worker:Enabled", true))
        {
            // Only where the health endpoints listen matters to a migrate-only host.
            var binding = WorkerOptions.HealthUrlsProblems(config["Worker:HealthUrls"] ?? new WorkerOptions().HealthUrls)
                .Concat(WorkerOptions.KestrelEndpointProblems(config)).ToList();
            if (binding.Count > 0) throw new WorkerConfigurationException(binding);
            return builder;
        }

        var options = config.GetSection(WorkerOptions.Section).Get<WorkerOptions>() ?? new WorkerOptions();
        options.ShareRoot ??= config["Share:Root"];
        // Settings that cannot run stop the worker here, every problem named, before a model loads or a queue binds.
        var inferenceOptions = config.GetSection(InferenceOptions.Section).Get<InferenceOptions>() ?? new InferenceOptions();
        var batchingOptions = config.GetSection(DynamicBatcherOptions.Section).Get<DynamicBatcherOptions>() ?? new DynamicBatcherOptions();
        var problems = options.Validate()
            .Concat(WorkerOptions.KestrelEndpointProblems(config))
            .Concat(inferenceOptions.Validate())
            .Concat(batchingOptions.Validate().Select(p => $"{DynamicBatcherOptions.Section}: {p}"))
            .ToList();
        var analysis = AnalysisConfiguration.Read(config, problems);
        // One batch is one float array: its largest input must fit.
        if (inferenceOptions.MaxInputPixels * 3 * (long)batchingOptions.MaxBatchSize > Array.MaxLength)
            problems.Add($"Inference:MaxInputPixels × 3 × {DynamicBatcherOptions.Section}:MaxBatchSize must be at most {Array.MaxLength} " +
                $"(one batch is one float array), got {inferenceOptions.MaxInputPixels} × 3 × {batchingOptions.MaxBatchSize}.");
        if (problems.Count > 0) throw new WorkerConfigurationException(problems);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(analysis);
        builder.Services.Configure<InferenceOptions>(config.GetSection(InferenceOptions.Section));
        builder.Services.PostConfigure<InferenceOptions>(o => o.OnnxRuntimePath ??= Environment.GetEnvironmentVariable("NFC_ORT_LIBRARY"));
        builder.Services.Configure<DynamicBatcherOptions>(config.GetSection(DynamicBatcherOptions.Section));

        builder.Services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ResolveConnectionString()));
        builder.Services.AddSingleton<StudyRegistrationStore>().AddSingleton<ModelStore>().AddSingleton<JobStore>()
            .AddSingleton<ResultStore>().AddSingleton<PatientResultsStore>().AddSingleton<CompletionEventStore>().AddSingleton<WorkerStore>();
        builder.Services.AddSingleton<WorkerIdentity>().AddSingleton<DatabaseRetry>().AddSingleton<WorkerMetrics>().AddSingleton<WorkerShutdown>();
        builder.Services.AddSingleton<StudyIntake>().AddSingleton<CompletionTracker>().AddScoped<WorkPublisher>();
        builder.Services.AddSingleton<ModelHost>().AddHostedService(sp => sp.GetRequiredService<ModelHost>());

        builder.Services.AddMassTransit(bus =>
        {
            // Queues: submit-study, analyze-images (and their _error queues), analyze-images-fault.
            bus.SetKebabCaseEndpointNameFormatter();
            bus.AddConsumer<SubmitStudyConsumer>();
            bus.AddConsumer<AnalyzeImagesConsumer>(c => c.UseConcurrentMessageLimit(options.ConcurrentMessageLimit));
            bus.AddConsumer<AnalyzeImagesFaultConsumer>();
            bus.AddShareWatcherConsumers();
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
                if (options.QuorumQueues) rabbit.SetQuorumQueue();
                rabbit.ConfigureEndpoints(context);
            });
        });
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = true;
            // Chunks in flight get StopTimeout to finish (WorkerShutdown); the bus waits a little longer for them to
            // hand their jobs back.
            o.StopTimeout = options.StopTimeout + TimeSpan.FromSeconds(15);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.StopTimeout + TimeSpan.FromSeconds(30));
        // After the bus, so the watcher's first scan can publish.
        builder.AddShareWatcher();
        builder.Services.AddHostedService<HeartbeatService>();
        builder.Services.AddHostedService<OutboxDispatcher>();
        health.AddCheck<DatabaseHealthCheck>("postgres", tags: ["ready"])
            .AddCheck<ModelHealthCheck>("model", tags: ["ready"]);
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
