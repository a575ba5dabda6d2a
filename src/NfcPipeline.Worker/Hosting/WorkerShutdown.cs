namespace NfcPipeline.Worker.Hosting;

/// <summary>
/// Fires <see cref="WorkerOptions.StopTimeout"/> after the host begins to stop: the analysis of chunks still running
/// then gives up, and their jobs go back to the outbox (AnalyzeImagesConsumer). The worker keeps this deadline itself,
/// since how soon MassTransit cancels a consumer once its bus stops varies with the other hosted services.
/// </summary>
public sealed class WorkerShutdown : IDisposable
{
    private readonly CancellationTokenSource _deadline = new();
    private readonly CancellationTokenRegistration _registration;

    public WorkerShutdown(IHostApplicationLifetime lifetime, WorkerOptions options) =>
        _registration = lifetime.ApplicationStopping.Register(() => _deadline.CancelAfter(options.StopTimeout));

    /// <summary>Cancelled once the stop timeout has passed.</summary>
    public CancellationToken Deadline => _deadline.Token;

    public void Dispose()
    {
        _registration.Dispose();
        _deadline.Dispose();
    }
}
