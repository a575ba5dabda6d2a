namespace NfcPipeline.Inference.Decoding;

/// <summary>Thresholds of the dense/v1 decoder. Distances are in model input pixels.</summary>
public sealed record DenseDecoderOptions
{
    /// <summary>A cell is capillary when its probability reaches this.</summary>
    public float MaskThreshold { get; init; } = 0.5f;
    /// <summary>
    /// A centre-heatmap peak must reach this to start an instance. Low, because a loop's centre lies between its
    /// limbs where nothing in the image marks it, so the reference model's peaks are soft (0.15–0.6); the
    /// suppression radius below keeps soft peaks from splitting one loop.
    /// </summary>
    public float CenterThreshold { get; init; } = 0.15f;
    /// <summary>Weaker peaks within this distance of a stronger one are the same instance (loops stand ≥ 40 px apart).</summary>
    public float CenterNmsRadius { get; init; } = 16f;
    /// <summary>A cell whose offset vote lands farther than this from every centre belongs to no instance.</summary>
    public float MaxGroupDistance { get; init; } = 48f;
    /// <summary>Instances smaller than this many input pixels are noise.</summary>
    public float MinInstanceArea { get; init; } = 24f;
    /// <summary>Keypoints are searched in the instance's mask grown by this margin (edges lie on the boundary).</summary>
    public float KeypointSearchMargin { get; init; } = 6f;
    public int MaxInstances { get; init; } = 500;
    /// <summary>
    /// Choose U with D, LL with LR and RL with RR (the second within a few vessel radii of the first), so both edges
    /// of each diameter come from one cross-section; otherwise every keypoint is its channel's strongest cell in the instance.
    /// </summary>
    public bool PairKeypoints { get; init; } = true;

    /// <summary>
    /// How far LR may lie from LL (and RR from RL), in vessel radii: the 90th percentile of the radius map over the
    /// instance's mask cells, about the centreline's half-width. The median, mostly cells near the edges, is about a quarter of the
    /// width: at 4 medians the reach fell short of the limb's width on half the dilated and giant loops, whose limb
    /// diameters then came out far too small.
    /// </summary>
    public float LimbPairReachRadii { get; init; } = 2.5f;

    /// <summary>
    /// A limb edge's heatmap is a ridge along the limb, and its strongest cell within reach may lie at another height,
    /// which makes the diameter too long. So LR (RR) is the cell nearest LL (RL) whose heat reaches this fraction of
    /// the strongest within reach: where the ridge crosses LL's cross-section. 0: the strongest. With the reference
    /// model on the validation study (simulator seed 555), 0.8 and the reach above took the arterial / venous MAE from
    /// 1.45 / 1.72 to 1.25 / 1.54 µm.
    /// </summary>
    public float LimbPairNearestFraction { get; init; } = 0.8f;

    /// <summary>
    /// LL and LR are searched only left of the line from the instance's centroid to U (the loop viewed apex-up), RL
    /// and RR only right of it. Limb heatmaps are weak on wide loops, and without this both edges of the left limb were
    /// sometimes taken on the right limb. With the reference model on the validation study (simulator seed 555), the
    /// arterial / venous MAE went from 1.25 / 1.54 to 1.20 / 1.26 µm. The edges found on the right side are often weaker,
    /// so the measurement's keypoint gate withholds more limb diameters (on the held-out study, 645 loops' limbs
    /// measured against 717).
    /// </summary>
    public bool LimbSides { get; init; } = true;

    /// <summary>
    /// How far D may lie from U, in median radii: many, because the median comes mostly from the limbs' edge cells and
    /// a dilated or giant apex is wider than the limbs (at 4, apical diameters came out 5 µm too small on average). A
    /// reach in vessel radii, as the limbs have, was tried on the validation study: no better at its best, and the
    /// apical MAE more than doubled half a radius either side of it.
    /// </summary>
    public float ApexPairReachRadii { get; init; } = 7f;

    /// <summary>
    /// The least reach of either pair, in input pixels, whatever the radii give: a thin or one-cell instance's radii
    /// are too few and too small to size a cross-section (ops/model/decode.py uses the same 6).
    /// </summary>
    public float MinPairReachPixels { get; init; } = 6f;

    /// <summary>
    /// D must lie at least this many vessel widths (twice the vessel radius of <see cref="LimbPairReachRadii"/>) from U,
    /// when any candidate does: an apex is no narrower than its limbs, yet the apex heatmaps' strongest cells sometimes
    /// lie side by side on one edge. 0: no minimum.
    /// </summary>
    public float ApexMinWidths { get; init; } = 0.6f;

    /// <summary>
    /// When pairing, how many of the first edge's strongest local peaks are tried: the pair with the highest product of
    /// confidences wins, so a stray peak of one heatmap cannot pull the other edge away from the real cross-section.
    /// </summary>
    public int PairPeakCandidates { get; init; } = 6;

    /// <summary>
    /// U, D and the other keypoints are the heatmap-weighted mean of the offset votes of the cells within this many
    /// cells of the peak (0: the peak's own vote). With the reference model, 1 lowered the apical MAE by about 0.1 µm on
    /// the validation study (simulator seed 555).
    /// </summary>
    public int KeypointVoteRadius { get; init; } = 1;

    /// <summary>
    /// Loops in a field point the same way: a loop whose limb-bottom → apex direction goes against the field's
    /// consensus gets U, D (towards the nail) and LB, RB (away from it) searched again. See <c>KeypointOrientation</c>.
    /// </summary>
    public bool OrientByConsensus { get; init; } = true;

    /// <summary>A consensus needs at least this many loops with a direction.</summary>
    public int OrientationMinInstances { get; init; } = 3;

    /// <summary>... and their unit directions' mean must be at least this long (1: all agree; 0: they cancel out).</summary>
    public float OrientationMinCoherence { get; init; } = 0.5f;

    /// <summary>A loop whose direction has a cosine below this with the consensus (60° off at 0.5) is searched again.</summary>
    public float OrientationMinCosine { get; init; } = 0.5f;

    /// <summary>
    /// When the loops' directions cancel out but their axes agree (a field blurred as a whole, half its loops seen upside
    /// down), the consensus is the axis pointing to the field's brighter end: the nail plate and cuticle lie beyond the
    /// apices. Needs the model input (<see cref="FieldBrightness"/>). With the reference model on 224 simulated fields
    /// (seeds 555–557 and 777–780) it came into play on 6, and pointed the right way on all 6.
    /// </summary>
    public bool OrientByBrightness { get; init; } = true;

    /// <summary>... when the loops' axes agree this much: the mean of their doubled-angle unit vectors is at least this long.</summary>
    public float OrientationMinAxisCoherence { get; init; } = 0.3f;

    /// <summary>... and the brightness correlates with position along the axis at least this strongly (either sign).</summary>
    public float OrientationMinBrightnessCorrelation { get; init; } = 0.2f;

    /// <summary>
    /// The search again stands only when its U reaches this heatmap value (the measurement's keypoint gate): a loop cut
    /// by the frame has no apex on the nail side, and a weak U there is worse than the original.
    /// </summary>
    public float OrientationMinApexConfidence { get; init; } = 0.08f;

    /// <summary>The largest distance option, in input pixels: far beyond any loop, well inside int arithmetic.</summary>
    public const float MaxPixels = 4096f;
    /// <summary>The largest reach in vessel radii.</summary>
    public const float MaxRadii = 64f;

    public void Validate()
    {
        if (KeypointVoteRadius is < 0 or > 3) throw new ArgumentOutOfRangeException(nameof(KeypointVoteRadius), KeypointVoteRadius, "must be in [0, 3]");
        if (OrientationMinInstances < 1) throw new ArgumentOutOfRangeException(nameof(OrientationMinInstances), OrientationMinInstances, "must be at least 1");
        if (!(OrientationMinCoherence is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(OrientationMinCoherence), OrientationMinCoherence, "must be in [0, 1]");
        if (!(OrientationMinAxisCoherence is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(OrientationMinAxisCoherence), OrientationMinAxisCoherence, "must be in [0, 1]");
        if (!(OrientationMinBrightnessCorrelation is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(OrientationMinBrightnessCorrelation), OrientationMinBrightnessCorrelation, "must be in [0, 1]");
        if (!(OrientationMinCosine is >= -1 and <= 1)) throw new ArgumentOutOfRangeException(nameof(OrientationMinCosine), OrientationMinCosine, "must be in [-1, 1]");
        if (!(OrientationMinApexConfidence is >= 0 and <= 1))   // NaN too
            throw new ArgumentOutOfRangeException(nameof(OrientationMinApexConfidence), OrientationMinApexConfidence, "must be in [0, 1]");
        if (!(MaskThreshold is > 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(MaskThreshold), MaskThreshold, "must be in (0, 1)");
        if (!(CenterThreshold is > 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(CenterThreshold), CenterThreshold, "must be in (0, 1)");
        if (!(MinPairReachPixels is >= 0 and <= 256)) throw new ArgumentOutOfRangeException(nameof(MinPairReachPixels), MinPairReachPixels, "must be in [0, 256]");
        if (!(LimbPairReachRadii is > 0 and <= MaxRadii)) throw new ArgumentOutOfRangeException(nameof(LimbPairReachRadii), LimbPairReachRadii, $"must be in (0, {MaxRadii}]");
        if (!(ApexPairReachRadii is > 0 and <= MaxRadii)) throw new ArgumentOutOfRangeException(nameof(ApexPairReachRadii), ApexPairReachRadii, $"must be in (0, {MaxRadii}]");
        if (!(ApexMinWidths is >= 0 and <= 2)) throw new ArgumentOutOfRangeException(nameof(ApexMinWidths), ApexMinWidths, "must be in [0, 2]");
        if (!(LimbPairNearestFraction is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(LimbPairNearestFraction), LimbPairNearestFraction, "must be in [0, 1]");
        // Each option by its own name (NaN fails every comparison, so it is refused too). Distances are bounded: a value
        // such as 1e40 (infinity as a double) saturated the pixel arithmetic, and every image failed as the model's fault.
        if (!(CenterNmsRadius is >= 0 and <= MaxPixels)) throw new ArgumentOutOfRangeException(nameof(CenterNmsRadius), CenterNmsRadius, $"must be in [0, {MaxPixels}]");
        if (!(MaxGroupDistance is > 0 and <= MaxPixels)) throw new ArgumentOutOfRangeException(nameof(MaxGroupDistance), MaxGroupDistance, $"must be in (0, {MaxPixels}]");
        if (!(MinInstanceArea is >= 0 and <= MaxPixels * MaxPixels))
            throw new ArgumentOutOfRangeException(nameof(MinInstanceArea), MinInstanceArea, $"must be in [0, {MaxPixels * MaxPixels}]");
        if (!(KeypointSearchMargin is >= 0 and <= MaxPixels)) throw new ArgumentOutOfRangeException(nameof(KeypointSearchMargin), KeypointSearchMargin, $"must be in [0, {MaxPixels}]");
        // Bounded: "unlimited" written as int.MaxValue wrapped the candidate lists' size and failed every image as the model's.
        if (PairPeakCandidates is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(PairPeakCandidates), PairPeakCandidates, "must be in [1, 64]");
        if (MaxInstances < 1) throw new ArgumentOutOfRangeException(nameof(MaxInstances), MaxInstances, "must be at least 1");
    }
}
