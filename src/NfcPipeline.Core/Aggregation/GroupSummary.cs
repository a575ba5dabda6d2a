using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;

namespace NfcPipeline.Core.Aggregation;

/// <summary>
/// The summary of a group of fields: one finger, or a whole patient. Density statistics take one value per
/// gradable field. Capillary statistics pool the capillaries of gradable fields; ungradable and missing fields only
/// count towards the field counts and the ungradable share.
/// </summary>
public sealed record GroupSummary
{
    public required int FieldCount { get; init; }
    public required int MissingFieldCount { get; init; }
    public int AnalysedFieldCount => FieldCount - MissingFieldCount;
    public required int GradableFieldCount { get; init; }
    public int UngradableFieldCount => AnalysedFieldCount - GradableFieldCount;

    /// <summary>Ungradable fields / analysed fields; null when none was analysed.</summary>
    public double? UngradableShare => AnalysedFieldCount == 0 ? null : (double)UngradableFieldCount / AnalysedFieldCount;

    /// <summary>Density per mm, one value per gradable field that has one.</summary>
    public required Summary DensityPerMm { get; init; }
    public required MorphologyDistribution Morphology { get; init; }
    public required Summary ApicalDiameterUm { get; init; }
    public required Summary ArterialDiameterUm { get; init; }
    public required Summary VenousDiameterUm { get; init; }

    /// <summary>Normal and Abnormal instances: the loops.</summary>
    public required int LoopCount { get; init; }
    public required int DistalCount { get; init; }
    public required int DilatedCount { get; init; }
    public required int GiantCount { get; init; }
    /// <summary>Loops whose giant flag is unknown (apex not measured: a weak U or D, or cut by the frame).</summary>
    public int GiantUnknownCount { get; init; }

    /// <summary>Loops that could be giant (the normal-shaped ones, or every loop where any shape may be): the evidence for "no giants".</summary>
    public int GiantCandidateCount { get; init; }
    public required int AbnormalCount { get; init; }
    public required int HemorrhageCount { get; init; }

    public required IReadOnlyList<ExcludedField> ExcludedFields { get; init; }

    /// <param name="giantRequiresNormalShape">As the measurement's MeasurementOptions.GiantRequiresNormalShape: which loops could be giant.</param>
    public static GroupSummary Of(IReadOnlyCollection<FieldResult> fields, bool giantRequiresNormalShape = true)
    {
        var gradable = fields.Where(f => f.Measurement is { Grading.IsGradable: true }).Select(f => f.Measurement!).ToList();
        var capillaries = gradable.SelectMany(m => m.Capillaries).ToList();
        var loops = capillaries.Where(c => c.IsLoop).ToList();
        var excluded = fields.Where(f => f.Measurement is not { Grading.IsGradable: true })
            .Select(f => f.Measurement is { } m
                ? new ExcludedField(f.FieldId, f.Finger, m.Grading.Reason, m.Grading.Explanation)
                : new ExcludedField(f.FieldId, f.Finger, null, f.FailureReason ?? "No result for this field."))
            .ToArray();
        return new GroupSummary
        {
            FieldCount = fields.Count,
            MissingFieldCount = fields.Count(f => f.Measurement is null),
            GradableFieldCount = gradable.Count,
            DensityPerMm = Summary.Of(gradable.Where(m => m.DensityPerMm is not null).Select(m => m.DensityPerMm!.Value)),
            Morphology = MorphologyDistribution.Of(capillaries),
            ApicalDiameterUm = Summary.Of(Values(loops, c => c.ApicalDiameterUm)),
            ArterialDiameterUm = Summary.Of(Values(loops, c => c.ArterialDiameterUm)),
            VenousDiameterUm = Summary.Of(Values(loops, c => c.VenousDiameterUm)),
            LoopCount = loops.Count,
            DistalCount = gradable.Sum(m => m.DistalCount),
            DilatedCount = loops.Count(c => c.IsDilated == true),
            GiantCount = loops.Count(c => c.IsGiant == true),
            GiantUnknownCount = loops.Count(c => c.IsGiant is null),
            GiantCandidateCount = giantRequiresNormalShape ? loops.Count(c => c.Category == ClinicalCategory.Normal) : loops.Count,
            AbnormalCount = loops.Count(c => c.Category == ClinicalCategory.Abnormal),
            HemorrhageCount = gradable.Sum(m => m.HemorrhageCount),
            ExcludedFields = excluded,
        };
    }

    private static IEnumerable<double> Values(IEnumerable<CapillaryMeasurement> loops, Func<CapillaryMeasurement, double?> pick) =>
        loops.Select(pick).Where(v => v is not null).Select(v => v!.Value);
}
