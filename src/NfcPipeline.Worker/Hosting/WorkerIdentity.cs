namespace NfcPipeline.Worker.Hosting;

/// <summary>Who this worker process is, in the workers table and in job rows.</summary>
public sealed class WorkerIdentity
{
    public string Host { get; } = Environment.MachineName;
    public int Pid { get; } = Environment.ProcessId;
    public string Id { get; }

    public WorkerIdentity() => Id = ProcessPrefix(Host, Pid) + Guid.NewGuid().ToString("N")[..8];

    /// <summary>How the ids of a process's workers begin: a fault's host and process name the worker it came from.</summary>
    public static string ProcessPrefix(string host, int pid) => $"{host}:{pid}:";
}
