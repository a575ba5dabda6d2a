namespace NfcPipeline.Worker.Hosting;

/// <summary>Who this worker process is, in the workers table and in job rows.</summary>
public sealed class WorkerIdentity
{
    public string Host { get; } = Environment.MachineName;
    public int Pid { get; } = Environment.ProcessId;
    public string Id { get; }

    public WorkerIdentity() => Id = $"{Host}:{Pid}:{Guid.NewGuid().ToString("N")[..8]}";
}
