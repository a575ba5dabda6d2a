namespace NfcPipeline.Worker.Completion;

/// <summary>
/// Studies the stranded sweep failed to complete, each left out of its passes for a while that doubles with every
/// failure (from one sweep interval up to 64), so a few that always fail do not take every pass's places.
/// </summary>
public sealed class SweepBackoff(TimeSpan interval, TimeProvider clock)
{
    private readonly Dictionary<long, (int Failures, DateTimeOffset Until)> _studies = new();

    /// <summary>Studies to leave out of the next pass.</summary>
    public IReadOnlyCollection<long> Waiting()
    {
        var now = clock.GetUtcNow();
        return _studies.Where(s => s.Value.Until > now).Select(s => s.Key).ToList();
    }

    public (int Failures, TimeSpan RetryIn) Failed(long studyId)
    {
        int failures = _studies.TryGetValue(studyId, out var known) ? known.Failures + 1 : 1;
        var wait = interval * Math.Pow(2, Math.Min(failures - 1, 6));
        _studies[studyId] = (failures, clock.GetUtcNow() + wait);
        return (failures, wait);
    }

    public void Succeeded(long studyId) => _studies.Remove(studyId);

    /// <summary>
    /// Forgets studies stranded no more (completed by a consumer, deleted, requeued): neither in the pass's results nor
    /// left out of its query, so a count from weeks ago does not start a later failure near the longest wait. Call it
    /// only for a pass whose page was not full (a study beyond a full page may still be stranded).
    /// </summary>
    public void Forget(IEnumerable<long> strandedNow, IReadOnlyCollection<long> leftOut)
    {
        var keep = strandedNow.Concat(leftOut).ToHashSet();
        foreach (var study in _studies.Keys.Where(s => !keep.Contains(s)).ToList()) _studies.Remove(study);
    }
}
