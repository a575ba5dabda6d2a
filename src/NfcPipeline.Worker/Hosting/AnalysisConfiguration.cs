using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Worker.Hosting;

/// <summary>
/// The measurement and aggregation policy from the "Analysis" section: <c>Analysis:Measurement:*</c>,
/// <c>Analysis:DistalRow:*</c>, <c>Analysis:Grading:*</c>, <c>Analysis:FastTrack:*</c> (the option records' property
/// names), and <c>Analysis:Categories:&lt;class&gt;</c> = a clinical category, added to or re-pointing the default map.
/// Unset values keep their defaults; an unknown key or a value that does not parse is a problem, named.
/// </summary>
public static class AnalysisConfiguration
{
    public const string Section = "Analysis";

    public static AnalysisOptions Read(IConfiguration config, List<string> problems)
    {
        var section = config.GetSection(Section);
        T Part<T>(string name, T fallback) where T : class
        {
            var part = section.GetSection(name);
            if (!part.GetChildren().Any()) return fallback;
            try { return part.Get<T>(o => o.ErrorOnUnknownConfiguration = true) ?? fallback; }
            catch (InvalidOperationException ex)
            {
                problems.Add($"{Section}:{name}: {ex.Message}");
                return fallback;
            }
        }
        var categories = new List<KeyValuePair<string, ClinicalCategory>>();
        foreach (var entry in section.GetSection("Categories").GetChildren())
        {
            if (EnumNames.TryParse(entry.Value, out ClinicalCategory category))
                categories.Add(new(entry.Key, category));
            else
                problems.Add($"{Section}:Categories:{entry.Key} must be one of {string.Join(", ", Enum.GetNames<ClinicalCategory>())}, got '{entry.Value}'.");
        }
        var measurement = Part("Measurement", MeasurementOptions.Default);
        var options = new AnalysisOptions
        {
            Measurement = categories.Count == 0 ? measurement : measurement with { Categories = measurement.Categories.With(categories) },
            DistalRow = Part("DistalRow", DistalRowOptions.Default),
            Grading = Part("Grading", GradingOptions.Default),
            FastTrack = Part("FastTrack", FastTrackOptions.Default),
        };
        problems.AddRange(options.Validate().Select(p => $"{Section}:{p}"));
        // Configuration keys are case-insensitive.
        foreach (var unknown in section.GetChildren().Select(c => c.Key)
                     .Except(["Measurement", "DistalRow", "Grading", "FastTrack", "Categories"], StringComparer.OrdinalIgnoreCase))
            problems.Add($"{Section}:{unknown} is not a setting (Measurement, DistalRow, Grading, FastTrack, Categories).");
        return options;
    }
}
