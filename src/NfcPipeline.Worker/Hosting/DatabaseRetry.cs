using System.Diagnostics;
using System.Net.Sockets;
using Npgsql;
using Polly;
using Polly.Retry;

namespace NfcPipeline.Worker.Hosting;

/// <summary>
/// Retries database calls through outages (a restarting server, a dropped connection) with exponential backoff and
/// jitter, so a chunk's finished inference is not thrown away because Postgres was briefly gone. No retry is decided
/// once Worker:DatabaseRetryBudget has passed since the call's first failure (a slow call that then deadlocks is still
/// retried): an unreachable host spends its connect timeout on every attempt, and counting delays alone made a 90 s
/// budget last minutes.
/// </summary>
public sealed class DatabaseRetry
{
    private static readonly ResiliencePropertyKey<long> FirstFailure = new("nfc.db-retry.first-failure");
    private readonly ResiliencePipeline _pipeline;

    public DatabaseRetry(WorkerOptions options, ILogger<DatabaseRetry> logger)
    {
        var maxDelay = TimeSpan.FromSeconds(10);
        var budget = options.DatabaseRetryBudget;
        int attempts = 0;
        for (double total = 0, delay = 0.5; total < budget.TotalSeconds; delay = Math.Min(delay * 2, maxDelay.TotalSeconds), attempts++)
            total += delay;
        _pipeline = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex && IsTransient(ex) && WithinBudget(args.Context, budget)),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(500),
            MaxDelay = maxDelay,
            MaxRetryAttempts = Math.Max(1, attempts),
            OnRetry = args =>
            {
                logger.LogWarning("Database call failed ({Error}); retry {Attempt} in {Delay:0.0} s",
                    args.Outcome.Exception?.GetType().Name, args.AttemptNumber + 1, args.RetryDelay.TotalSeconds);
                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    public static bool IsTransient(Exception ex) => ex switch
    {
        PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal),
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is SocketException or IOException or TimeoutException,
        SocketException or TimeoutException => true,
        Completion.EventStampException { InnerException: { } inner } => IsTransient(inner),   // the database's failure, told apart
        _ => false,
    };

    private static bool WithinBudget(ResilienceContext context, TimeSpan budget)
    {
        if (!context.Properties.TryGetValue(FirstFailure, out long first)) context.Properties.Set(FirstFailure, first = Stopwatch.GetTimestamp());
        return Stopwatch.GetElapsedTime(first) < budget;
    }

    public async ValueTask<T> RunAsync<T>(Func<CancellationToken, Task<T>> action, CancellationToken ct)
    {
        var context = ResilienceContextPool.Shared.Get(ct);
        try { return await _pipeline.ExecuteAsync(static async (c, call) => await call(c.CancellationToken), context, action); }
        finally { ResilienceContextPool.Shared.Return(context); }
    }

    public async ValueTask RunAsync(Func<CancellationToken, Task> action, CancellationToken ct) =>
        await RunAsync<bool>(async token => { await action(token); return true; }, ct);
}
