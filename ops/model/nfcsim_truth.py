"""The simulator's truth per image and per patient, aggregated as the pipeline aggregates its results: the flags of
docs/measurements.md (image_summary), PatientAggregator's patient numbers (patient_truth) and FastTrackClassifier's
pattern (fast_track_pattern). Kept beside simulate.py, which writes them into the truth file."""
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nfcsim_shapes import ABNORMAL_SHAPES, CLASSES, NORMAL_SHAPES  # noqa: E402

DILATED_UM, GIANT_UM = 20.0, 50.0
GIANT_MIN_LIMB_UM = 20.0   # MeasurementOptions.GiantMinLimbDiameterUm: a giant's limbs are enlarged too
LOOP_SHAPES = NORMAL_SHAPES + ABNORMAL_SHAPES   # the loops (IsLoop): Normal and Abnormal categories
NAMED_FINGER = re.compile(r"[LR][1-5]")   # FieldResult.IsNamedFinger: a finger as intake writes it


# The EULAR fast-track thresholds with Cutolo's staging: the C# FastTrackOptions defaults
# (src/NfcPipeline.Core/Options/FastTrackOptions.cs), which FastTrackClassifier applies.
NON_SSC_MIN_DENSITY, SSC_MAX_DENSITY = 7.0, 3.0
GIANTS_PRESENT_MIN, ABNORMAL_PRESENT_MIN = 1, 1
LATE_MAX_DENSITY, ACTIVE_MIN_GIANT_SHARE, ACTIVE_MIN_HEMORRHAGE_SHARE, EARLY_MIN_DENSITY = 3.0, 0.10, 0.10, 6.0
MIN_DENSITY_FIELDS, MIN_DENSITY_FINGERS = 2, 2
MIN_GIANT_KNOWN_SHARE = 0.25


def fast_track_pattern(density, giants, abnormal, hemorrhages, loops, density_fields=None, density_fingers=None,
                       giant_unknown=0, giant_candidates=None):
    """The pattern the C# FastTrackClassifier gives for these patient numbers; returns (pattern, rule trace).

    density: the mean over gradable fields, None when there is none (an unknown density never meets a density
    condition); giants, abnormal, hemorrhages: counts in gradable fields; loops: the Normal and Abnormal instances of
    gradable fields, the denominator of the hemorrhage share (none when there is no loop); giant_unknown: the loops
    whose giant flag is unknown (a normal-shaped loop whose U or D is not visible), left out of the giant share's
    denominator as FastTrackInputs.GiantKnownCount leaves them (no share when no loop's flag is known);
    giant_candidates: the loops that could be giant (normal-shaped; None: every loop): with the apex measured for under
    MinGiantKnownShare (0.25) of them, "no giants" decides no rule (indeterminate where rule 1 or 3 would decide),
    and the giant share stages nothing (active by the share does not hold, early is not shown).
    density_fields, density_fingers: the fields the density comes from and the fingers they lie on (None: not
    checked); below MinDensityFields (2) fields or MinDensityFingers (2) fingers the density decides no rule, as an
    unknown one.
    Rules in the classifier's order: non-scleroderma (density >= 7, giants < 1, abnormal < 1); else scleroderma when
    giants >= 1 or (density <= 3 and abnormal >= 1), staged late (density <= 3, abnormal >= 1, giant share < 0.10,
    an unknown share counting as 0), else active (giant share >= 0.10 or hemorrhage share >= 0.10 or density < 6),
    else early when the density is known (else unstaged); else, by the published rule 3, non-scleroderma when the
    density is known, indeterminate when it is not (too little to call).
    The C# outcomes map onto the truth's names as the pipeline stores them (PatientMetricsJson.Pattern):
    NonScleroderma -> "non_scleroderma"; Scleroderma with sub-pattern Early/Active/Late -> "scleroderma_early",
    "scleroderma_active", "scleroderma_late", without one "scleroderma"; Indeterminate -> "indeterminate"."""
    too_few = density is not None and ((density_fields is not None and density_fields < MIN_DENSITY_FIELDS)
                                       or (density_fingers is not None and density_fingers < MIN_DENSITY_FINGERS))
    known = density is not None and not too_few
    known_loops = loops - giant_unknown
    giant_share = giants / known_loops if known_loops > 0 else None
    candidates = loops if giant_candidates is None else giant_candidates
    apices_too_few = candidates > 0 and candidates - giant_unknown < MIN_GIANT_KNOWN_SHARE * candidates
    hemo_share = hemorrhages / loops if loops else None
    d = (f"{density:.4g}/mm not used (from {density_fields} fields on {density_fingers} fingers)" if too_few
         else "unknown" if not known else f"{density:.4g}/mm")
    if known and density >= NON_SSC_MIN_DENSITY and giants < GIANTS_PRESENT_MIN and abnormal < ABNORMAL_PRESENT_MIN \
            and not apices_too_few:
        return "non_scleroderma", f"non-scleroderma: density {d} >= 7/mm, no giants, no abnormal shapes"
    by_giants = giants >= GIANTS_PRESENT_MIN
    by_loss = known and density <= SSC_MAX_DENSITY and abnormal >= ABNORMAL_PRESENT_MIN
    if not by_giants and not by_loss:
        if not known:
            return "indeterminate", f"indeterminate: density {d}, no giants: too little to call"
        if apices_too_few:
            return "indeterminate", f"indeterminate: density {d}, no giants seen, but the apex is measured for too few loops"
        return "non_scleroderma", (f"non-scleroderma (rule 3, non-specific abnormalities): density {d}, {giants} giants, "
                                   f"{abnormal} abnormal shapes; neither the normal nor a scleroderma rule holds")
    why = (f"scleroderma: {giants} giants present" if by_giants else
           f"scleroderma: density {d} <= 3/mm with {abnormal} abnormal shapes")
    gs = "none" if giant_share is None else f"{giant_share:.3f}"
    hs = "none" if hemo_share is None else f"{hemo_share:.3f}"
    if known and density <= LATE_MAX_DENSITY and abnormal >= ABNORMAL_PRESENT_MIN \
            and (giant_share or 0.0) < ACTIVE_MIN_GIANT_SHARE:
        return "scleroderma_late", f"{why}; late: density {d} <= 3/mm, abnormal shapes, giant share {gs} < 0.10"
    reasons = []
    if giant_share is not None and giant_share >= ACTIVE_MIN_GIANT_SHARE and not apices_too_few:
        reasons.append(f"giant share {gs} >= 0.10")
    if hemo_share is not None and hemo_share >= ACTIVE_MIN_HEMORRHAGE_SHARE:
        reasons.append(f"hemorrhages per loop {hs} >= 0.10")
    if known and density < EARLY_MIN_DENSITY:
        reasons.append(f"density {d} < 6/mm")
    if reasons:
        return "scleroderma_active", f"{why}; active: " + " or ".join(reasons)
    if not known:
        return "scleroderma", f"{why}; stage not determined: neither late nor active, and density {d} cannot show early"
    if apices_too_few:
        return "scleroderma", f"{why}; stage not determined: neither late nor active, and the giant share is from too few apices"
    return "scleroderma_early", (f"{why}; early: neither late nor active (giant share {gs}, hemorrhages per loop "
                                 f"{hs}, density {d})")


def image_summary(anns):
    """Per-class instance counts, and the giant and dilated loops as docs/measurements.md flags them: only loops
    (Normal and Abnormal classes; not blur, not hemorrhage) carry the flags; giant = apical >= 50 um on a
    normal-shaped loop whose limbs are not narrower than 20 um (GiantMinLimbDiameterUm; the simulator's giants have
    limbs of 0.7-0.9 of their apex); dilated = apical 20-50 um, or a loop of 50 um or more that is not giant (an
    abnormal-shaped one: MeasurementOptions.GiantRequiresNormalShape, true by default). A loop whose U or D is not visible (outside the
    frame, as the pipeline also withholds, or drawn over) carries neither flag; a normal-shaped one's giant flag is
    then unknown (an abnormal-shaped loop is never giant), counted apart as the C# GiantUnknownCount.
    Returns (counts, giants, dilated, giant_unknown)."""
    counts = {c: 0 for c in CLASSES}
    giants = dilated = giant_unknown = 0
    for a in anns:
        name = CLASSES[a["category_id"] - 1]
        counts[name] += 1
        apical = a["apical_diameter_um"]
        apex_in_frame = a["keypoints"][2] == 2 and a["keypoints"][5] == 2
        if name not in LOOP_SHAPES:
            continue
        if apical is None or not apex_in_frame:
            giant_unknown += name in NORMAL_SHAPES
            continue
        limbs = [v for v in (a.get("arterial_diameter_um"), a.get("venous_diameter_um")) if v is not None]
        if apical >= GIANT_UM and name in NORMAL_SHAPES and not limbs:
            giant_unknown += 1   # giant or dilated: no limb says which (the C# flags are both unknown)
            continue
        giant = apical >= GIANT_UM and name in NORMAL_SHAPES and all(v >= GIANT_MIN_LIMB_UM for v in limbs)
        giants += giant
        dilated += apical >= DILATED_UM and not giant
    return counts, giants, dilated, giant_unknown


def patient_truth(patient, profile, imgs):
    """A patient's truth, aggregated as docs/measurements.md (PatientAggregator, GroupSummary) defines it: only
    gradable images count. Density: mean, median and sample SD (n - 1) over the gradable images, None when there is
    none (SD None under 2); morphology counts over every instance of gradable images; giant, dilated and abnormal
    loops and hemorrhages in gradable images; loops = Normal and Abnormal instances (not blur, not hemorrhage)."""
    gradable = [i for i in imgs if not i["ungradable"]]
    dens = [float(i["density_per_mm"]) for i in gradable if i["density_per_mm"] is not None]
    mean = float(np.mean(dens)) if dens else None
    counts = {c: sum(i["morphology_counts"][c] for i in gradable) for c in CLASSES}
    giants = sum(i["giant_count"] for i in gradable)
    giant_unknown = sum(i.get("giant_unknown_count", 0) for i in gradable)   # absent before nfc-sim 0.3.1
    dilated = sum(i["dilated_count"] for i in gradable)
    abnormal = sum(counts[c] for c in ABNORMAL_SHAPES)
    loops = sum(counts[c] for c in LOOP_SHAPES)
    # As FastTrackInputs: fingers not named count as none, and when no field names one only the fields are checked.
    named = {i.get("finger") for i in gradable if i["density_per_mm"] is not None and NAMED_FINGER.fullmatch(i.get("finger") or "")}
    fingers = len(named) if named or not dens else None
    candidates = sum(counts[c] for c in NORMAL_SHAPES)   # GroupSummary.GiantCandidateCount: abnormal loops are never giant
    pattern, rule = fast_track_pattern(mean, giants, abnormal, counts["hemorrhage"], loops, len(dens), fingers, giant_unknown,
                                       candidates)

    def r4(v):
        return None if v is None else round(float(v), 4)
    return {"patient": patient, "profile": profile, "images": len(imgs), "ungradable_images": len(imgs) - len(gradable),
            "density_mean_per_mm": r4(mean), "density_median_per_mm": r4(np.median(dens) if dens else None),
            "density_sd_per_mm": r4(np.std(dens, ddof=1) if len(dens) >= 2 else None),
            "morphology_counts": counts, "loop_count": int(loops), "giant_count": int(giants),
            "giant_unknown_count": int(giant_unknown),
            "dilated_count": int(dilated), "abnormal_count": int(abnormal), "hemorrhage_count": counts["hemorrhage"],
            "pattern": pattern, "pattern_rule": rule}
