using Microsoft.Extensions.Options;

namespace NfcPipeline.Inference.Batching;

/// <summary>
/// The batching policy, as data: bound from the "Inference:Batching" configuration section (or built in code) and
/// validated before a batcher starts. Defaults are documented in docs/batching.md.
/// </summary>
public sealed class DynamicBatcherOptions
{
    public const string Section = "Inference:Batching";

    /// <summary>The longest timeout the runtime's timers accept (int.MaxValue milliseconds, about 24.8 days).</summary>
    public static readonly TimeSpan LongestTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>The most a batch may hold, or batches run at once: far above any device's use, far below an overflow.</summary>
    public const int Largest = 1024;

    /// <summary>The longest MaxQueueDelay accepted; longer would hold a lone request hostage.</summary>
    public static readonly TimeSpan LongestQueueDelay = TimeSpan.FromMinutes(10);

    /// <summary>Names this batcher in logs, statistics and the metrics' "nfc.batcher.name" tag.</summary>
    public string Name { get; set; } = "default";

    /// <summary>The most requests in one batch. 1 gives batch-1 mode for models exported without a batch axis.</summary>
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>How long the first request of a forming batch may wait for companions. Zero dispatches at once.</summary>
    public TimeSpan MaxQueueDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Batch sizes, besides MaxBatchSize, that are dispatched as soon as a bucket holds them, without waiting out
    /// MaxQueueDelay. Empty by default: only full batches skip the delay.
    /// </summary>
    public IList<int> PreferredBatchSizes { get; set; } = new List<int>();

    /// <summary>
    /// The most requests waiting in the queue (not counting batches in flight). SubmitAsync awaits while it is full.
    /// Each queued request holds its preprocessed tensor, so this also bounds the memory the queue takes.
    /// </summary>
    public int QueueCapacity { get; set; } = 32;

    /// <summary>How many batches may run at once; also applies in batch-1 mode.</summary>
    public int MaxConcurrentBatches { get; set; } = 2;

    /// <summary>The deadline of a request that brings none, measured from its SubmitAsync call. Null: no deadline.</summary>
    public TimeSpan? DefaultDeadline { get; set; }

    /// <summary>The recent window over which statistics report requests per second.</summary>
    public TimeSpan StatisticsWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Every problem with these options, each naming the option; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add("Name must not be empty.");
        }

        // Upper bounds too: "unlimited" written as int.MaxValue allocated for it, and admission (batch × batches) overflowed.
        if (MaxBatchSize is < 1 or > Largest)
        {
            errors.Add($"MaxBatchSize must be 1 to {Largest} (was {MaxBatchSize}).");
        }

        if (MaxQueueDelay < TimeSpan.Zero || MaxQueueDelay > LongestQueueDelay)
        {
            errors.Add($"MaxQueueDelay must be between 0 and {LongestQueueDelay} (was {MaxQueueDelay}).");
        }

        ValidatePreferredBatchSizes(errors);

        if (QueueCapacity is < 1 or > Largest * Largest)
        {
            errors.Add($"QueueCapacity must be 1 to {Largest * Largest} (was {QueueCapacity}).");
        }
        else if (MaxBatchSize is >= 1 and <= Largest && QueueCapacity < MaxBatchSize)
        {
            errors.Add($"QueueCapacity ({QueueCapacity}) must be at least MaxBatchSize ({MaxBatchSize}), or a full batch could never form.");
        }

        if (MaxConcurrentBatches is < 1 or > Largest)
        {
            errors.Add($"MaxConcurrentBatches must be 1 to {Largest} (was {MaxConcurrentBatches}).");
        }

        if (DefaultDeadline is { } deadline && (deadline <= TimeSpan.Zero || deadline > LongestTimeout))
        {
            errors.Add($"DefaultDeadline must be positive and at most {LongestTimeout} when set (was {deadline}).");
        }

        if (StatisticsWindow <= TimeSpan.Zero)
        {
            errors.Add($"StatisticsWindow must be positive (was {StatisticsWindow}).");
        }

        return errors;
    }

    /// <summary>Throws an <see cref="OptionsValidationException"/> listing every problem at once.</summary>
    public void ThrowIfInvalid()
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Name ?? string.Empty, typeof(DynamicBatcherOptions), errors);
        }
    }

    private void ValidatePreferredBatchSizes(List<string> errors)
    {
        if (PreferredBatchSizes is null)
        {
            errors.Add("PreferredBatchSizes must not be null; leave it empty for none.");
            return;
        }

        var seen = new HashSet<int>();
        foreach (int size in PreferredBatchSizes)
        {
            if (size < 1 || size > MaxBatchSize)
            {
                errors.Add($"PreferredBatchSizes entries must be between 1 and MaxBatchSize ({MaxBatchSize}); {size} is not.");
            }
            else if (!seen.Add(size))
            {
                errors.Add($"PreferredBatchSizes lists {size} more than once.");
            }
        }
    }
}

/// <summary>Lets the options pattern (ValidateOnStart) report the same errors as <see cref="DynamicBatcherOptions.Validate"/>.</summary>
public sealed class DynamicBatcherOptionsValidator : IValidateOptions<DynamicBatcherOptions>
{
    public ValidateOptionsResult Validate(string? name, DynamicBatcherOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
