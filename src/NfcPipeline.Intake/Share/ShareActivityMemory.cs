namespace NfcPipeline.Intake.Share;

/// <summary>
/// What one watcher saw of each study folder at its last scan. A folder that looks different from last time has
/// changed since, by this host's clock, whatever its file times say: a file server whose clock runs behind, or a
/// copy that keeps the source's file times (rsync -a, robocopy), would otherwise make a copy in progress look settled.
/// A folder seen for the first time counts as changing from that scan: nothing shows that a copy is not running.
/// </summary>
public sealed class ShareActivityMemory
{
    private sealed record Seen(string Activity, DateTimeOffset At, DateTimeOffset ChangeSeenAt, bool FirstSight);

    /// <summary>When a scan first saw the folder's current look; <see cref="FirstSight"/> when that was the first scan
    /// to see the folder at all (it may have been changing then, unseen).</summary>
    public readonly record struct Observation(DateTimeOffset ChangeSeenAt, bool FirstSight);

    private readonly Dictionary<string, Seen> _seen = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>
    /// Records this scan's look of <paramref name="folder"/> and returns when a scan first saw its current look: this
    /// scan, if it changed since the last or was never seen before. Any change happened before that scan, so a quiet
    /// time counted from it is never too short.
    /// </summary>
    public Observation Observe(string folder, string activity, DateTimeOffset now)
    {
        lock (_lock)
        {
            var seen = !_seen.TryGetValue(folder, out var previous) ? new Seen(activity, now, now, FirstSight: true)
                : previous.Activity == activity ? previous with { At = now }
                : new Seen(activity, now, now, FirstSight: false);
            _seen[folder] = seen;
            return new Observation(seen.ChangeSeenAt, seen.FirstSight);
        }
    }

    /// <summary>Drops the folders a scan no longer found, so the memory stays the size of the share.</summary>
    public void KeepOnly(IEnumerable<string> folders)
    {
        lock (_lock)
        {
            var keep = folders.ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _seen.Keys.Where(k => !keep.Contains(k)).ToList()) _seen.Remove(gone);
        }
    }
}
