using Microsoft.Extensions.Configuration;
using NfcPipeline.Core.Domain;
using NfcPipeline.Worker.Hosting;

namespace NfcPipeline.IntegrationTests;

/// <summary>The worker's measurement and aggregation policy from configuration (the "Analysis" section).</summary>
public class AnalysisConfigurationTests
{
    private static (Core.Options.AnalysisOptions Options, List<string> Problems) Read(Dictionary<string, string?> settings)
    {
        var problems = new List<string>();
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return (AnalysisConfiguration.Read(config, problems), problems);
    }

    [Fact]
    public void Thresholds_and_class_categories_come_from_configuration_and_the_rest_keeps_its_defaults()
    {
        var (options, problems) = Read(new()
        {
            ["Analysis:Measurement:GiantApicalDiameterUm"] = "60",
            ["Analysis:FastTrack:NonSclerodermaMinDensityPerMm"] = "6.5",
            ["Analysis:Grading:MinConfidentInstances"] = "2",
            ["Analysis:Categories:microhaemorrhage"] = "hemorrhage",
            ["Analysis:Categories:hairpin"] = "abnormal",
        });
        Assert.Empty(problems);
        Assert.Equal(60, options.Measurement.GiantApicalDiameterUm);
        Assert.Equal(20, options.Measurement.DilatedApicalDiameterUm);   // unset: the default
        Assert.Equal(6.5, options.FastTrack.NonSclerodermaMinDensityPerMm);
        Assert.Equal(2, options.Grading.MinConfidentInstances);
        Assert.Equal(ClinicalCategory.Hemorrhage, options.Measurement.Categories.Entries["microhaemorrhage"]);
        Assert.Equal(ClinicalCategory.Abnormal, options.Measurement.Categories.Entries["hairpin"]);
        Assert.Equal(ClinicalCategory.Ungradable, options.Measurement.Categories.Entries["blur"]);   // the default map stays
        Assert.Equal(Core.Options.AnalysisOptions.Default, Read([]).Options);

        // Keys are case-insensitive, as everywhere in .NET configuration (environment variables are often upper case).
        var (upper, none) = Read(new() { ["ANALYSIS:MEASUREMENT:DILATEDAPICALDIAMETERUM"] = "25" });
        Assert.Empty(none);
        Assert.Equal(25, upper.Measurement.DilatedApicalDiameterUm);
    }

    [Fact]
    public void A_model_class_the_category_map_lacks_is_a_start_up_refusal_with_the_names()
    {
        var missing = new Core.Options.UnknownClassNameException(["giant"]);
        Assert.True(WorkerStartup.IsModelProblem(missing));   // was an unhandled exception's stack trace
        Assert.Contains("'giant'", WorkerStartup.Describe(missing));
    }

    [Fact]
    public void Values_that_do_not_parse_unknown_keys_and_unusable_thresholds_are_named()
    {
        var (_, problems) = Read(new()
        {
            ["Analysis:Measurement:GiantApicalDiameterUm"] = "wide",
            ["Analysis:Grading:MinConfidentInstanse"] = "2",
            ["Analysis:Categories:hairpin"] = "pretty",
            ["Analysis:Categories:bushy"] = "Abnormal,Hemorrhage",   // Enum.TryParse ORed it to Ungradable
            ["Analysis:Categories:tortuous"] = "1",
            ["Analysis:FastTrack:ActiveMinGiantShare"] = "-1",
            ["Analysis:Colours"] = "x",
        });
        Assert.Contains(problems, p => p.StartsWith("Analysis:Measurement:", StringComparison.Ordinal) && p.Contains("wide"));
        Assert.Contains(problems, p => p.StartsWith("Analysis:Grading:", StringComparison.Ordinal) && p.Contains("MinConfidentInstanse"));
        Assert.Contains(problems, p => p.StartsWith("Analysis:Categories:hairpin must be one of", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Analysis:Categories:bushy must be one of", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Analysis:Categories:tortuous must be one of", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Analysis:FastTrack:", StringComparison.Ordinal));
        Assert.Contains("Analysis:Colours is not a setting (Measurement, DistalRow, Grading, FastTrack, Categories).", problems);

        // The binder takes a number for an enum, and "Infinity" for a double.
        var (_, bound) = Read(new() { ["Analysis:Measurement:LimbRoles"] = "5", ["Analysis:DistalRow:RowGapFractionOfLoopHeight"] = "Infinity" });
        Assert.Contains(bound, p => p.Contains("LimbRoles must be one of", StringComparison.Ordinal));
        Assert.Contains(bound, p => p.Contains("RowGapFractionOfLoopHeight must be a positive finite number", StringComparison.Ordinal));
    }
}
