using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Evaluation;

public sealed record EvaluationOptions
{
    public static EvaluationOptions Default { get; } = new();

    /// <summary>Mask IoU from which a prediction matches a truth instance.</summary>
    public double MinIou { get; init; } = 0.5;

    /// <summary>Class names renamed before comparison ("hairpin" → "normal"), applied to both sides, case-insensitive.</summary>
    public IReadOnlyDictionary<string, string> ClassNameMap { get; init; } = new Dictionary<string, string>();

    public LimbRoleRule LimbRoles { get; init; } = LimbRoleRule.WiderIsVenous;

    /// <summary>Which class names are loops (normal or abnormal), for <see cref="EvaluationReport.LoopDiameters"/>; names are looked up after <see cref="ClassNameMap"/>.</summary>
    public ClassCategoryMap Categories { get; init; } = ClassCategoryMap.Default;

    /// <summary>
    /// Predicted keypoints scoring below this are ignored, and those scoring 0 always (not given). Truth keypoints count
    /// when visible (2), or labelled (1) in a truth that never marks 2.
    /// </summary>
    public double MinPredictionKeypointScore { get; init; }

    /// <summary>µm per pixel for images whose truth carries no um_per_px; without either, µm errors are left out.</summary>
    public double? DefaultUmPerPx { get; init; }

    /// <summary>
    /// µm per pixel for every image, over the truth's um_per_px: the scale the predictions were measured at (`nfc
    /// evaluate --um-per-px`), so all-pairs and loop diameters compare at one scale.
    /// </summary>
    public double? UmPerPx { get; init; }

    /// <summary>Parses "a=b" pairs into <see cref="ClassNameMap"/>.</summary>
    public static IReadOnlyDictionary<string, string> ParseClassNameMap(IEnumerable<string> pairs)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0 || eq == pair.Length - 1) throw new FormatException($"Expected 'from=to', got '{pair}'.");
            map[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }
        return map;
    }
}
