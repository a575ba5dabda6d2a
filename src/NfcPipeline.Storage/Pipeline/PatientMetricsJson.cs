using System.Text.Json;
using System.Text.Json.Serialization;
using NfcPipeline.Core.Aggregation;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>The JSON documents stored in patient_metrics (the reporting views and the dashboard read these shapes).</summary>
public static class PatientMetricsJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>non_scleroderma, scleroderma_early|active|late, scleroderma, or indeterminate.</summary>
    public static string Pattern(FastTrackResult result) => result.Pattern switch
    {
        FastTrackPattern.NonScleroderma => "non_scleroderma",
        FastTrackPattern.Scleroderma => result.SubPattern is { } sub ? "scleroderma_" + sub.ToString().ToLowerInvariant() : "scleroderma",
        _ => "indeterminate",
    };

    public static string RuleTrace(FastTrackResult result) => JsonSerializer.Serialize(new
    {
        pattern = Pattern(result), sub_pattern = result.SubPattern, summary = result.Summary, inputs = result.Inputs, trace = result.Trace,
    }, Options);

    public static string Morphology(MorphologyDistribution morphology) => JsonSerializer.Serialize(new
    {
        total = morphology.Total,
        by_category = morphology.ByCategory.ToDictionary(c => c.Name.ToLowerInvariant(), c => new { count = c.Count, percent = c.Percent }),
        by_category_percent = morphology.ByCategory.ToDictionary(c => c.Name.ToLowerInvariant(), c => c.Percent),
        by_class = morphology.ByClassName.ToDictionary(c => c.Name, c => new { count = c.Count, percent = c.Percent }),
    }, Options);

    public static string Diameters(GroupSummary summary) => JsonSerializer.Serialize(new Dictionary<string, Summary>
    {
        ["apical"] = summary.ApicalDiameterUm, ["arterial"] = summary.ArterialDiameterUm, ["venous"] = summary.VenousDiameterUm,
    }, Options);

    public static string PerFinger(PatientReport report) => JsonSerializer.Serialize(report.Fingers.ToDictionary(f => f.Finger, f => new
    {
        density_mean = f.Summary.DensityPerMm.Mean, density_sd = f.Summary.DensityPerMm.Sd, fields = f.Summary.FieldCount,
        gradable_fields = f.Summary.GradableFieldCount, loops = f.Summary.LoopCount, giants = f.Summary.GiantCount,
    }), Options);
}
