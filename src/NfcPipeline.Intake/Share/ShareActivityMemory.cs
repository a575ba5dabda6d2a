namespace NfcPipeline.Intake.Share;

/// <summary>
/// What one watcher saw of each study folder at its last scan. A folder that looks different from last time has
/// changed since, by this host's clock, whatever its file times say: a file server whose clock runs behind, or a
/// copy that keeps the source's file times (rsync -a, robocopy), would otherwise make a copy in progress look settled.
/// A folder seen for the first time is judged by its file times alone.
/// </summary>
public sealed class ShareActivityMemory
{
    private sealed record Seen(string Activity, DateTimeOffset At, DateTimeOffset? ChangeSeenAt);

    private readonly Dictionary<string, Seen> _seen = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>
    /// Records this scan's look of <paramref name="folder"/> and returns when a scan first saw its current look after
    /// an earlier, different one (this scan, if it changed since the last); null while it has not changed since it was
    /// first seen. The change happened before that scan, so a quiet time counted from it is never too short.
    /// </summary>
    public DateTimeOffset? Observe(string folder, string activity, DateTimeOffset now)
    {
        lock (_lock)
        {
            DateTimeOffset? changeSeenAt = null;
            if (_seen.TryGetValue(folder, out var previous))
                changeSeenAt = previous.Activity == activity ? previous.ChangeSeenAt : now;
            _seen[folder] = new Seen(activity, now, changeSeenAt);
            return changeSeenAt;
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
