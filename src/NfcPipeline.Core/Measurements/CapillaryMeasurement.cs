using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;

namespace NfcPipeline.Core.Measurements;

/// <summary>
/// What one capillary measures. Lengths are in pixels and micrometres; a value is null when a keypoint it needs
/// was below the confidence threshold. Flags are null when the instance is no loop, or when a diameter that could
/// decide them is unknown (docs/measurements.md, "Flags").
/// </summary>
public sealed record CapillaryMeasurement
{
    /// <summary>The position of the instance in the image's list, so results trace back to the model output.</summary>
    public required int Index { get; init; }
    public required string ClassName { get; init; }
    public required ClinicalCategory Category { get; init; }
    public required double Score { get; init; }

    /// <summary>True for Normal and Abnormal instances: real loops, which carry diameters and flags.</summary>
    public bool IsLoop => Category.IsLoop();

    public double? ApicalDiameterPx { get; init; }
    public double? ApicalDiameterUm { get; init; }
    public double? LeftLimbDiameterPx { get; init; }
    public double? RightLimbDiameterPx { get; init; }
    public double? ArterialDiameterPx { get; init; }
    public double? ArterialDiameterUm { get; init; }
    public double? VenousDiameterPx { get; init; }
    public double? VenousDiameterUm { get; init; }

    /// <summary>From the apex midpoint (U+D)/2 to LB.</summary>
    public double? LeftLimbLengthUm { get; init; }
    /// <summary>From the apex midpoint (U+D)/2 to RB.</summary>
    public double? RightLimbLengthUm { get; init; }
    public double? ArterialLimbLengthUm { get; init; }
    public double? VenousLimbLengthUm { get; init; }

    /// <summary>From the limb-bottom midpoint (LB+RB)/2 to U, along the loop axis.</summary>
    public double? LoopHeightPx { get; init; }
    public double? LoopHeightUm { get; init; }
    /// <summary>Between the outer limb edges LL and RR, across the loop axis.</summary>
    public double? LoopWidthPx { get; init; }
    public double? LoopWidthUm { get; init; }

    /// <summary>The outer apex edge U when confident; where the distal row looks for this loop.</summary>
    public Point2? Apex { get; init; }
    /// <summary>Unit vector from the limb-bottom midpoint to U: the direction the loop points (distally).</summary>
    public Point2? Axis { get; init; }

    /// <summary>
    /// The apex lies outside the image (<see cref="FrameCut"/>): U and D mark no apex, so the apical diameter, the
    /// loop height, the limb lengths, <see cref="Apex"/>, <see cref="Axis"/> and the flags are null.
    /// </summary>
    public bool ApexCutByFrame { get; init; }

    public bool? IsDilated { get; init; }
    public bool? IsGiant { get; init; }
}
