using System.Diagnostics;

namespace NfcPipeline.Inference.Batching;

/// <summary>
/// Completed requests per second over a sliding window, from a ring of batch completions. Not thread-safe: the
/// batcher calls it under its lock.
/// </summary>
internal sealed class ThroughputTracker
{
    private const int Capacity = 1024;

    private readonly long[] _timestamps = new long[Capacity];
    private readonly int[] _counts = new int[Capacity];
    private readonly long _windowTicks;
    private readonly long _startedAt;
    private int _next;
    private int _filled;

    public ThroughputTracker(TimeSpan window, long startedAt)
    {
        _windowTicks = (long)(window.TotalSeconds * Stopwatch.Frequency);
        _startedAt = startedAt;
    }

    public void Add(long timestamp, int count)
    {
        _timestamps[_next] = timestamp;
        _counts[_next] = count;
        _next = (_next + 1) % Capacity;
        _filled = Math.Min(_filled + 1, Capacity);
    }

    public double RatePerSecond(long now)
    {
        // A young batcher divides by its age, not the whole window; a full ring shortens the window to what it holds.
        long from = Math.Max(now - _windowTicks, _startedAt);
        if (_filled == Capacity)
        {
            from = Math.Max(from, _timestamps[_next]);
        }

        long sum = 0;
        for (int i = 0; i < _filled; i++)
        {
            if (_timestamps[i] > from && _timestamps[i] <= now)
            {
                sum += _counts[i];
            }
        }

        double seconds = (now - from) / (double)Stopwatch.Frequency;
        return seconds > 0 ? sum / seconds : 0;
    }
}
