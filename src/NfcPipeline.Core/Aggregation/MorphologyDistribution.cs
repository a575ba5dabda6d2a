using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;

namespace NfcPipeline.Core.Aggregation;

/// <summary>A count and its percentage of the total (null when the total is 0).</summary>
public sealed record CountShare(string Name, int Count, double? Percent);

/// <summary>How many instances fall in each clinical category and each model class name.</summary>
public sealed record MorphologyDistribution(int Total, IReadOnlyList<CountShare> ByCategory, IReadOnlyList<CountShare> ByClassName)
{
    /// <summary>Every category appears, zero or not; class names appear as met, in ordinal order.</summary>
    public static MorphologyDistribution Of(IEnumerable<CapillaryMeasurement> capillaries)
    {
        var all = capillaries.ToList();
        double? Percent(int count) => all.Count == 0 ? null : 100.0 * count / all.Count;
        var byCategory = Enum.GetValues<ClinicalCategory>()
            .Select(c => { int n = all.Count(m => m.Category == c); return new CountShare(c.ToString(), n, Percent(n)); })
            .ToArray();
        var byClass = all.GroupBy(m => m.ClassName, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new CountShare(g.Key, g.Count(), Percent(g.Count()))).ToArray();
        return new MorphologyDistribution(all.Count, byCategory, byClass);
    }

    public int CountOf(ClinicalCategory category) => ByCategory.First(c => c.Name == category.ToString()).Count;
}
