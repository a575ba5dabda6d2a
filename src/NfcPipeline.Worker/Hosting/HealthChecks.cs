using Dapper;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NfcPipeline.Worker.Analysis;
using Npgsql;

namespace NfcPipeline.Worker.Hosting;

public sealed class DatabaseHealthCheck(NpgsqlDataSource db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            // With the check's token: a half-open connection held /health/ready for the 30 s command timeout.
            await connection.ExecuteScalarAsync<int>(new CommandDefinition("select 1", cancellationToken: cancellationToken));
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("PostgreSQL is not reachable: " + ex.Message);
        }
    }
}

public sealed class ModelHealthCheck(ModelHost model) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(model.IsLoaded
            ? HealthCheckResult.Healthy($"{model.Model.Contract.ModelName} on {model.Model.ActiveProvider}")
            : HealthCheckResult.Unhealthy("The model is not loaded."));
}

public static class HealthEndpoints
{
    /// <summary>/health/live: the process runs. /health/ready: PostgreSQL, RabbitMQ (MassTransit's "ready" checks), the model and its runs (InferenceStreak).</summary>
    public static WebApplication MapPipelineHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        // Degraded is not ready: MassTransit reports a bus with a faulted receive endpoint (a channel closed by the
        // broker's consumer_timeout) so, and the default 200 kept sending work to a worker that took none.
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK, [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        });
        return app;
    }
}
