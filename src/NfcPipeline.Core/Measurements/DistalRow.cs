using NfcPipeline.Core.Geometry;

namespace NfcPipeline.Core.Measurements;

/// <summary>Where the distal direction of an image came from, most trustworthy first.</summary>
public enum DistalAxisSource
{
    /// <summary>A line fitted through the distal apices, its normal oriented by the limbs.</summary>
    RowLineFit,
    /// <summary>The mean direction from limb-bottom midpoint to apex.</summary>
    LimbDirection,
    /// <summary>From each mask's centroid to its apex, when limb bottoms were not confident.</summary>
    MaskShape,
    /// <summary>Normal of a line through all apices, oriented towards the top of the image (no loop showed its direction).</summary>
    ApexLineImageUp,
    /// <summary>Nothing to go by: the top of the image is taken as distal.</summary>
    ImageUp,
}

/// <summary>The outermost row of capillary apices in one image, and the density along it.</summary>
public sealed record DistalRow
{
    /// <summary>Indices (into the image's instance list) of the loops in the distal row, ascending.</summary>
    public required IReadOnlyList<int> Indices { get; init; }
    public int Count => Indices.Count;

    /// <summary>Unit vector pointing distally (towards the nail).</summary>
    public required Point2 DistalAxis { get; init; }
    public required DistalAxisSource AxisSource { get; init; }

    /// <summary>
    /// True when which way the axis points is a guess with nothing behind it: no loop showed its direction and the row
    /// runs up the image, so "towards the top" does not choose between its two sides. Loops are then not taken as cut
    /// by the frame on the side it points to.
    /// </summary>
    public bool DirectionUnknown { get; init; }

    /// <summary>The row line clipped to the field of view; null when there is no distal apex or the line misses the field.</summary>
    public (Point2 Start, Point2 End)? Line { get; init; }
    public double? LineLengthPx { get; init; }
    public double? LineLengthMm { get; init; }

    /// <summary>
    /// Distal count / line length in mm; 0 when the image has no loop. Null when no loop can be counted: all cut by the
    /// frame, or none with an apex to place (<see cref="Unplaced"/>); and when the line is <see cref="LineTooShort"/>.
    /// </summary>
    public double? DensityPerMm { get; init; }

    /// <summary>The row line crosses less of the field than <c>DistalRowOptions.MinRowLengthMm</c>: too little nailfold seen for a density.</summary>
    public bool LineTooShort { get; init; }

    /// <summary>Row candidates left out because no apex could be placed: no confident U and an empty mask.</summary>
    public int Unplaced { get; init; }

    /// <summary>Depth of the band (px): an apex further back than this behind a neighbour is not distal.</summary>
    public required double BandPx { get; init; }
    /// <summary>Half-width (px) along the row within which apices can hide one another.</summary>
    public required double LateralWindowPx { get; init; }
}
