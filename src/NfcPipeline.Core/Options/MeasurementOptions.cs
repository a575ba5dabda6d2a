namespace NfcPipeline.Core.Options;

/// <summary>How the two limbs of a loop are called arterial (afferent) and venous (efferent).</summary>
public enum LimbRoleRule
{
    /// <summary>ANFC's convention: the wider limb is venous, the narrower arterial. Needs both limbs.</summary>
    WiderIsVenous,
    /// <summary>The keypoint names' side: LL/LR is arterial, RL/RR venous (NFCMTL's keypoint description).</summary>
    LeftArterialRightVenous,
    /// <summary>The mirror image, for devices or mountings that show the loop flipped.</summary>
    LeftVenousRightArterial,
}

/// <summary>Per-capillary measurement policy. Defaults follow ANFC and the usual dilated/giant definitions.</summary>
public sealed record MeasurementOptions
{
    public static MeasurementOptions Default { get; } = new();

    /// <summary>
    /// A measurement needing a keypoint whose confidence is below this is null, never guessed. The default fits the
    /// reference model, whose keypoint heatmap peaks run about 0.1–0.3; tune it per model.
    /// </summary>
    public double MinKeypointConfidence { get; init; } = 0.08;

    /// <summary>Apical diameter (µm) from which a loop is dilated (and below <see cref="GiantApicalDiameterUm"/>).</summary>
    public double DilatedApicalDiameterUm { get; init; } = 20;

    /// <summary>Apical diameter (µm) from which a loop is giant (megacapillary).</summary>
    public double GiantApicalDiameterUm { get; init; } = 50;

    /// <summary>
    /// Giants are homogeneously enlarged normal-shaped loops (the EULAR standardisation's definition): an Abnormal loop
    /// that wide is dilated and abnormal, not giant. False flags every loop from the giant threshold on.
    /// </summary>
    public bool GiantRequiresNormalShape { get; init; } = true;

    /// <summary>
    /// A giant is homogeneously enlarged: its limbs are wide too. A loop whose apex reaches the giant threshold but a
    /// measured limb is narrower than this (µm) is not giant (its apex alone is wide, or U or D sits off the apex: the
    /// one keypoint would make the patient's pattern scleroderma); one with neither limb measured has no giant flag.
    /// Null: the apex alone decides. Defaults to the dilated threshold.
    /// </summary>
    public double? GiantMinLimbDiameterUm { get; init; } = 20;

    /// <summary>
    /// The EULAR standardisation calls a loop dilated when its arterial, venous or apical limb is 20–50 µm wide; by
    /// default only the apex is looked at (the threshold's name). True counts a limb of
    /// <see cref="DilatedApicalDiameterUm"/> or more too (giants stay an apex's measure).
    /// </summary>
    public bool DilatedIncludesLimbs { get; init; }

    public LimbRoleRule LimbRoles { get; init; } = LimbRoleRule.WiderIsVenous;

    /// <summary>
    /// A capillary whose mask reaches the image's edge more than this many pixels beyond its U, along the field's
    /// distal axis, has its apex outside the frame: its apical diameter, loop height and limb lengths are left out, and
    /// the distal row does not count it. Null: never.
    /// </summary>
    public double? ApexCutByFrameMarginPx { get; init; } = 2;

    /// <summary>Model class names to clinical categories.</summary>
    public ClassCategoryMap Categories { get; init; } = ClassCategoryMap.Default;

    /// <summary>Every problem with these options, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (!(MinKeypointConfidence >= 0 && MinKeypointConfidence <= 1))
            problems.Add($"MinKeypointConfidence must be in [0, 1], got {MinKeypointConfidence}.");
        if (!(DilatedApicalDiameterUm > 0))
            problems.Add($"DilatedApicalDiameterUm must be positive, got {DilatedApicalDiameterUm}.");
        if (!double.IsFinite(GiantApicalDiameterUm))
            problems.Add($"GiantApicalDiameterUm must be a finite number of µm, got {GiantApicalDiameterUm}.");
        else if (!(GiantApicalDiameterUm > DilatedApicalDiameterUm))
            problems.Add($"GiantApicalDiameterUm ({GiantApicalDiameterUm}) must exceed DilatedApicalDiameterUm ({DilatedApicalDiameterUm}).");
        if (GiantMinLimbDiameterUm is { } limb && !(limb >= 0 && limb < GiantApicalDiameterUm))
            problems.Add($"GiantMinLimbDiameterUm must be 0 or more and below GiantApicalDiameterUm ({GiantApicalDiameterUm}), or null (the apex alone decides), got {limb}.");
        if (!Enum.IsDefined(LimbRoles))   // a number or a comma list through the configuration binder
            problems.Add($"LimbRoles must be one of {string.Join(", ", Enum.GetNames<LimbRoleRule>())}, got {LimbRoles}.");
        if (ApexCutByFrameMarginPx is { } margin && !(margin >= 0 && double.IsFinite(margin)))
            problems.Add($"ApexCutByFrameMarginPx must be a finite number of 0 or more, or null (never), got {margin}.");
        return problems;
    }
}
