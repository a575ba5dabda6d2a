using NfcPipeline.Core.Domain;

namespace NfcPipeline.Core.Measurements;

public enum UngradableReason
{
    None,
    /// <summary>Blurred (Ungradable-category) instances make up too large a share.</summary>
    BlurDominates,
    /// <summary>Too few confident, gradable instances (including none at all).</summary>
    TooFewConfidentInstances,
    /// <summary>A reviewer excluded the field from its patient's results (the reason is theirs).</summary>
    ExcludedAtReview,
}

public enum ImageQuality
{
    Good,
    /// <summary>Gradable, but the density rests on a sparse row or part of the field is blurred.</summary>
    Limited,
    Ungradable,
}

/// <summary>Whether an image can be graded, and why not.</summary>
public sealed record ImageGrading(bool IsGradable, UngradableReason Reason, string Explanation)
{
    public static ImageGrading Gradable { get; } = new(true, UngradableReason.None, "Gradable.");
}

/// <summary>Everything measured on one image (one field).</summary>
public sealed record ImageMeasurement
{
    public required int ImageWidth { get; init; }
    public required int ImageHeight { get; init; }
    public required double MicrometresPerPixel { get; init; }

    /// <summary>One per instance, in the order the instances were given.</summary>
    public required IReadOnlyList<CapillaryMeasurement> Capillaries { get; init; }
    public required DistalRow DistalRow { get; init; }
    public int DistalCount => DistalRow.Count;

    /// <summary>Distal count per mm of row line within the field; null when the row line could not be placed.</summary>
    public double? DensityPerMm => DistalRow.DensityPerMm;

    public int HemorrhageCount => Capillaries.Count(c => c.Category == ClinicalCategory.Hemorrhage);
    public required ImageGrading Grading { get; init; }
    public required ImageQuality Quality { get; init; }

    /// <summary>Why the quality is not Good, in words; empty when it is.</summary>
    public required IReadOnlyList<string> QualityNotes { get; init; }
}
