using NfcPipeline.Core.Domain;
namespace NfcPipeline.Worker;

/// <summary>The worker's policy as data (section "Worker").</summary>
public sealed class WorkerOptions
{
    public const string Section = "Worker";

    /// <summary>
    /// The share that study and image paths in messages are relative to. Defaults to Share:Root; set this alone to
    /// resolve submitted paths without also running the share watcher on this worker.
    /// </summary>
    public string? ShareRoot { get; set; }

    /// <summary>
    /// The share must be a mount point for a chunk to be analysed (defaults to Share:RequireMountPoint): an unmounted
    /// network share's empty mount point would fail every image as missing. Either way a share root that is gone, or
    /// stops being one during a chunk, makes the chunk wait for it (docs/share.md).
    /// </summary>
    public bool? RequireShareMountPoint { get; set; }

    /// <summary>Images per analysis message (one job row). Small enough to finish well inside RabbitMQ's ack timeout.</summary>
    public int ChunkSize { get; set; } = 8;

    public const int MaxChunkSize = 256;

    public int PrefetchCount { get; set; } = 8;

    public const int MaxPrefetch = ushort.MaxValue;

    /// <summary>Messages consumed at once; their images share the dynamic batcher, which batches across messages.</summary>
    public int ConcurrentMessageLimit { get; set; } = 4;

    /// <summary>
    /// Submissions one worker takes and registers at once (its prefetch on submit-study too). Registering reads and
    /// hashes every file of the study: eight at once (the bus-wide prefetch) took eight times as long each against
    /// RabbitMQ's delivery timeout, while other workers stood idle.
    /// </summary>
    public int RegistrationConcurrency { get; set; } = 1;

    /// <summary>Quorum queues for the work queues (replicated; needs a RabbitMQ cluster to be useful).</summary>
    public bool QuorumQueues { get; set; }

    /// <summary>Used when neither the message nor the study manifest gives µm per pixel.</summary>
    public double DefaultMicrometresPerPixel { get; set; } = 2.0;

    /// <summary>What is wrong with these settings, one sentence each, naming the setting; empty when they can run.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        // A chunk's instances and masks stay in memory until its one write, and it must finish inside the broker's ack timeout.
        if (ChunkSize is < 1 or > MaxChunkSize) problems.Add($"Worker:ChunkSize must be 1 to {MaxChunkSize}, got {ChunkSize}.");
        // The broker's prefetch is 16 bits: 65536 would wrap to 0, no limit at all.
        if (PrefetchCount is < 1 or > MaxPrefetch)
            problems.Add($"Worker:PrefetchCount must be 1 to {MaxPrefetch} (0 would mean no limit), got {PrefetchCount}.");
        if (ConcurrentMessageLimit < 1) problems.Add($"Worker:ConcurrentMessageLimit must be at least 1, got {ConcurrentMessageLimit}.");
        // The broker hands out no more than the prefetch: a limit above it would never be reached.
        else if (PrefetchCount >= 1 && PrefetchCount < ConcurrentMessageLimit)
            problems.Add($"Worker:PrefetchCount ({PrefetchCount}) must be at least Worker:ConcurrentMessageLimit ({ConcurrentMessageLimit}): " +
                "the broker delivers no more than the prefetch at once, so fewer chunks would run than the limit says.");
        if (RegistrationConcurrency is < 1 or > 16) problems.Add($"Worker:RegistrationConcurrency must be 1 to 16, got {RegistrationConcurrency}.");
        if (!Calibration.IsPlausible(DefaultMicrometresPerPixel))
            problems.Add($"Worker:DefaultMicrometresPerPixel must be {Calibration.PlausibleRange}, got {DefaultMicrometresPerPixel}.");
        // A bare number binds as days ("60" is 60 days), so the spans have upper bounds as well.
        if (!(KeepHistory >= TimeSpan.FromDays(1) && KeepHistory <= TimeSpan.FromDays(3650)))
            problems.Add($"Worker:KeepHistory must be 1 to 3650 days (d.hh:mm:ss, e.g. 30.00:00:00), got {KeepHistory}.");
        // Lower bounds too: a timer under a millisecond fails after the bus took messages, and a publish given a few
        // milliseconds gives up before any confirm, so every outbox pass published every chunk again.
        if (HeartbeatInterval < TimeSpan.FromSeconds(1) || HeartbeatInterval >= TimeSpan.FromMinutes(2))
            problems.Add($"Worker:HeartbeatInterval must be 1 second to under 2 minutes (a worker silent for 2 minutes, or four of its intervals, counts as dead), got {HeartbeatInterval}.");
        if (RepublishAfter < TimeSpan.FromSeconds(1) || RepublishAfter > TimeSpan.FromDays(1))
            problems.Add($"Worker:RepublishAfter must be 1 second to 1 day (hh:mm:ss), got {RepublishAfter}.");
        // Past the longest pause between a message's retries (30 s) and a fault's recording: shorter, a chunk between two
        // retries could be sent back, its retry then acknowledged as superseded, and a chunk that always fails never fail.
        if (OrphanedChunkAfter < TimeSpan.FromMinutes(1) || OrphanedChunkAfter > TimeSpan.FromDays(1))
            problems.Add($"Worker:OrphanedChunkAfter must be 1 minute to 1 day (hh:mm:ss), got {OrphanedChunkAfter}.");
        // Past a chunk's run and a redelivered message's wait for a free consumer: shorter, a chunk whose message waits
        // would be sent again, and its first message, when it comes, acknowledged as superseded (run later, not twice).
        if (AbandonedChunkAfter < TimeSpan.FromMinutes(10) || AbandonedChunkAfter > TimeSpan.FromDays(7))
            problems.Add($"Worker:AbandonedChunkAfter must be 10 minutes to 7 days (d.hh:mm:ss), got {AbandonedChunkAfter}.");
        if (StopTimeout <= TimeSpan.Zero || StopTimeout > TimeSpan.FromDays(1))
            problems.Add($"Worker:StopTimeout must be positive and at most a day (hh:mm:ss), got {StopTimeout}.");
        if (DatabaseRetryBudget > TimeSpan.FromDays(1))
            problems.Add($"Worker:DatabaseRetryBudget must be at most a day (hh:mm:ss), got {DatabaseRetryBudget}.");
        if (UnhealthyAfterInferenceFailures is < 0 or > 1_000_000)
            problems.Add($"Worker:UnhealthyAfterInferenceFailures must be 0 (never) to 1000000, got {UnhealthyAfterInferenceFailures}.");
        if (!(TransientRetryDelay >= TimeSpan.Zero && TransientRetryDelay <= TimeSpan.FromMinutes(5)))
            problems.Add($"Worker:TransientRetryDelay must be 0 to 5 minutes (hh:mm:ss), got {TransientRetryDelay}.");
        if (!(RedeliveryWaitLimit >= TimeSpan.FromSeconds(1) && RedeliveryWaitLimit <= TimeSpan.FromDays(1)))
            problems.Add($"Worker:RedeliveryWaitLimit must be 1 second to 1 day (hh:mm:ss), got {RedeliveryWaitLimit}.");
        // Well past a chunk's commit-to-completion (seconds), or the sweep would aggregate beside the consumer.
        if (!(StrandedAfter >= TimeSpan.FromSeconds(1) && StrandedAfter <= TimeSpan.FromDays(7)))
            problems.Add($"Worker:StrandedAfter must be 1 second to 7 days (hh:mm:ss), got {StrandedAfter}.");
        if (!(StrandedSweepInterval >= TimeSpan.FromSeconds(1) && StrandedSweepInterval <= TimeSpan.FromDays(1)))
            problems.Add($"Worker:StrandedSweepInterval must be 1 second to 1 day (hh:mm:ss), got {StrandedSweepInterval}.");
        problems.AddRange(HealthUrlsProblems(HealthUrls));
        if (MaxAbandonedStarts < 1) problems.Add($"Worker:MaxAbandonedStarts must be at least 1, got {MaxAbandonedStarts}.");
        if (MessageRetryLimit < 0) problems.Add($"Worker:MessageRetryLimit must not be negative, got {MessageRetryLimit}.");
        if (DatabaseRetryBudget < TimeSpan.Zero) problems.Add($"Worker:DatabaseRetryBudget must not be negative, got {DatabaseRetryBudget}.");
        problems.AddRange(AckTimeoutProblems());
        return problems;
    }

    /// <summary>
    /// What one delivery may spend must fit inside the broker's ack timeout, or its channel closes mid-chunk and every
    /// unacknowledged message on it is redelivered, to wait and retry in turn.
    /// </summary>
    private IEnumerable<string> AckTimeoutProblems()
    {
        if (!(BrokerAckTimeout >= TimeSpan.FromMinutes(1) && BrokerAckTimeout <= TimeSpan.FromDays(7)))
        {
            yield return $"Worker:BrokerAckTimeout must be 1 minute to 7 days (the broker's consumer_timeout, hh:mm:ss), got {BrokerAckTimeout}.";
            yield break;
        }
        if (RedeliveryWaitLimit >= BrokerAckTimeout)
            yield return $"Worker:RedeliveryWaitLimit ({RedeliveryWaitLimit}) must be below Worker:BrokerAckTimeout ({BrokerAckTimeout}): " +
                "a redelivery would wait past the broker's ack timeout and be redelivered again.";
        // In doubles: an int.MaxValue limit wrapped to a negative product, a huge one overflowed TimeSpan.
        if (MessageRetryLimit >= 0 && DatabaseRetryBudget >= TimeSpan.Zero
            && (MessageRetryLimit + 1.0) * DatabaseRetryBudget.TotalSeconds >= BrokerAckTimeout.TotalSeconds)
            yield return $"Worker:DatabaseRetryBudget ({DatabaseRetryBudget}) times the {MessageRetryLimit + 1} tries of Worker:MessageRetryLimit " +
                $"must be below Worker:BrokerAckTimeout ({BrokerAckTimeout}): a database outage would hold deliveries past the broker's ack timeout.";
    }

    /// <summary>
    /// Kestrel:Endpoints, which would override Worker:HealthUrls (<see cref="Validate"/> judges those): judged before
    /// anything starts, for a migrate-only host (Worker:Enabled false) as well.
    /// </summary>
    public static IEnumerable<string> KestrelEndpointProblems(IConfiguration config) =>
        config.GetSection("Kestrel:Endpoints").GetChildren()
            .SelectMany(endpoint => HealthUrlProblems(endpoint["Url"] ?? "", $"Kestrel:Endpoints:{endpoint.Key}:Url"));

    /// <summary>Worker:HealthUrls: loopback only (the health endpoints have no authentication), and not empty.</summary>
    public static List<string> HealthUrlsProblems(string urls) => HealthUrlProblems(urls, "Worker:HealthUrls");

    private static List<string> HealthUrlProblems(string urls, string setting)
    {
        var list = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // None at all would leave Kestrel to its own default (ASPNETCORE_HTTP_PORTS: every interface).
        if (list.Length == 0) return [$"{setting} is empty; give a loopback URL such as http://127.0.0.1:5081."];
        return list.Where(url => !NfcPipeline.Contracts.ListenAddress.IsLoopbackUrl(url))
            .Select(url => $"{setting} '{url}' is not a loopback address; the health endpoints have no authentication.").ToList();
    }

    /// <summary>The µm/px a study's images are analysed at: its own calibration, else the default.</summary>
    public double MicrometresPerPixelFor(double? studyUmPerPx) => studyUmPerPx ?? DefaultMicrometresPerPixel;

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long without a heartbeat this worker still counts as alive to the others (one or two missed or slow ones, a
    /// database blip, do not make a live worker dead). Recorded in its workers row: each worker is judged by its own.
    /// </summary>
    public TimeSpan AliveWithin => 4 * HeartbeatInterval;

    /// <summary>
    /// How long published completion events, share scans, silent workers' rows and jobs that succeeded or were deleted
    /// are kept (trimmed hourly; failed jobs stay).
    /// </summary>
    public TimeSpan KeepHistory { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Jobs committed but not published for this long are published again (the jobs table is the outbox).</summary>
    public TimeSpan RepublishAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A chunk job left 'processing' under this worker, untouched and let go by all of its consumers for this long (its
    /// fault not recorded through a database outage longer than the retries), is sent back to the outbox. Longer than
    /// the pause between a message's retries and than a fault takes to be recorded once the database answers.
    /// </summary>
    public TimeSpan OrphanedChunkAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A chunk job left 'processing' under a worker that is gone, untouched for this long, is sent back to the outbox:
    /// the broker redelivers a dead worker's messages at once, so its message was lost too (a purged queue, a lost node).
    /// </summary>
    public TimeSpan AbandonedChunkAfter { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A token for a publish that gives up after <see cref="RepublishAfter"/>, or when <paramref name="ct"/> ends.</summary>
    public CancellationTokenSource PublishDeadline(CancellationToken ct)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(RepublishAfter);
        return deadline;
    }

    /// <summary>
    /// How long a stopping worker lets the chunks in flight finish. Then they are cancelled: their jobs go back to the
    /// outbox (retrying) and their messages are acknowledged, so the outbox publishes them again for the next worker;
    /// nothing of them was committed.
    /// </summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A study still processing with every image done and nothing changed for this long has had its completion lost (its
    /// message failed after the commit, past its retries): a sweep aggregates its patients and completes it.
    /// </summary>
    public TimeSpan StrandedAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the sweep for stranded studies runs.</summary>
    public TimeSpan StrandedSweepInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Message retries after the in-process database retries give up; then the message goes to the _error queue.</summary>
    public int MessageRetryLimit { get; set; } = 3;

    /// <summary>
    /// Starts of one chunk that found it still processing under another worker, which therefore stopped without
    /// finishing it (a crash, or killed for memory), before the chunk is given up: its job fails and its images fail as
    /// WorkerStopped, so a file that kills workers cannot take every worker down in turn for ever.
    /// </summary>
    public int MaxAbandonedStarts { get; set; } = 3;

    /// <summary>
    /// How long a redelivered chunk waits for another worker that is alive (its heartbeat moving on) but still holds
    /// the chunk; then it runs the chunk itself, as an abandoned start (a chunk takes seconds to minutes: one held this
    /// long is stuck, a hung run or read). The first of the two writes stands; the other stores nothing. Below the
    /// broker's ack timeout (RabbitMQ's consumer_timeout, 30 min), which counts from delivery and would otherwise hand
    /// the waiting delivery to another worker to wait again.
    /// </summary>
    public TimeSpan RedeliveryWaitLimit { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// The broker's ack timeout (RabbitMQ's consumer_timeout, 30 min by default): set it to the broker's. A delivery
    /// not acknowledged within it closes its channel and is redelivered, so the waits and retries a delivery may spend
    /// must fit inside it (<see cref="Validate"/>).
    /// </summary>
    public TimeSpan BrokerAckTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How long a chunk waits before it analyses once more the images that failed for a cause that can pass (a read
    /// error of the share, a file gone for a moment, ONNX Runtime refusing a run); those failing again fail. Zero: not
    /// tried again.
    /// </summary>
    public TimeSpan TransientRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Readiness (/health/ready) fails once this many images in a row failed in ONNX Runtime with none analysed since (a
    /// device lost after warm-up fails every run); an image analysed ends it. 0: never.
    /// </summary>
    public int UnhealthyAfterInferenceFailures { get; set; } = 20;

    /// <summary>How long database writes are retried (exponential backoff with jitter) before the message is retried.</summary>
    public TimeSpan DatabaseRetryBudget { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>Health endpoints; loopback by default.</summary>
    public string HealthUrls { get; set; } = "http://127.0.0.1:5081";
}
