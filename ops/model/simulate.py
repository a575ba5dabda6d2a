#!/usr/bin/python3
"""NFC study simulator: writes a study folder in the watched-share layout plus exact COCO ground truth.

    simulate.py --out DIR --patients N --seed S [--profile healthy|ssc-early|ssc-active|ssc-late|mixed|A,B,..]
                [--um-per-px X] [--size WxH] [--fingers L2,R3] [--fields 1-2] [--formats jpg,png,tif]
                [--jpeg-quality 75-95] [--study-id ID] [--truth FILE] [--replace]

DIR must be new or empty; --replace replaces an earlier study of this simulator there (and refuses, removing
nothing, if the folder holds anything else). Bad options stop it with a message before anything is written.
The truth goes to DIR/../<study_id>.truth.json unless --truth is given; it never lands inside the study folder, and
it is written last, so its presence means the study is complete.
Output is deterministic: the same options give the same bytes. What an image depends on:
- its own RNG, seeded by (--seed, patient index, the finger's index in the full list L2..R5, field index): the
  rendered field, its format and its JPEG quality;
- study-level values: the patient's profile (its place in the --profile cycle), --formats weights and --jpeg-quality
  range, and the um/px, frame size and colour cast drawn in that order from one study RNG seeded by --seed. Passing
  --um-per-px or --size skips that option's draw, so the later draws move: the colour cast (and with --um-per-px
  the drawn size) can change, and with it every image, even when the given value equals the one drawn;
- the number of fields of a finger is drawn from (--seed, patient index, the finger's position in --fingers) and
  --fields, so reordering or changing --fingers can change which fields exist.
The truth's image and annotation ids number everything written before, in patient, --fingers and field order.
"""
import argparse
import json
import math
import os
import re
import shutil
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nfcsim_render import PROFILES, render_field  # noqa: E402
from nfcsim_shapes import CLASSES, KEYPOINTS  # noqa: E402
# The truth's aggregation, named here too: tests and evaluate.py read them as simulate's.
from nfcsim_truth import DILATED_UM, GIANT_UM, fast_track_pattern, image_summary, patient_truth  # noqa: E402,F401

# What each version changed in the truth (and, where an entry says so, the images: as in 0.1.0 until 0.3.0), for
# evaluations and model cards.
TRUTH_CHANGES = {
    "0.2.0": "a bizarre loop's U, D and diameters are its drawn widths, a keypoint drawn over by another instance is not "
             "visible, and no loop whose apex is not visible is flagged giant or dilated",
    "0.2.1": "a patient whose density both fast-track rules pass over is non_scleroderma by the published rule 3 (was "
             "indeterminate, now kept for too little density to use), and a scleroderma pattern whose early stage cannot "
             "be shown for want of a usable density is 'scleroderma', unstaged (was early)",
    "0.3.0": "a loop's apex keeps an inner radius of at least 3 um (1.5 px) between its limbs, so D lies on an edge the "
             "image shows (in 0.2.x a tight turn closed the apex's lumen, and D lay inside the vessel); such a loop is "
             "drawn wider, and the loops after it in its row sit further along",
    "0.3.1": "truth only (images as in 0.3.0): the giant share that stages a scleroderma pattern is over the loops whose "
             "giant flag is known, as the C# classifier takes it (a normal-shaped loop whose U or D is not visible is "
             "neither giant nor not; 0.3.0 divided by every loop); images and patients carry giant_unknown_count; a "
             "keypoint inside its loop's own bud or branch (a bush's bud grown through U) is not visible (v=1)",
    "0.3.2": "truth only (images as in 0.3.1): a loop whose apex reaches 50 um is giant only when no limb is narrower than "
             "20 um (GiantMinLimbDiameterUm), and with no limb known its flag is unknown; 'no giants' and the giant share "
             "that stages a pattern need apices measured for a quarter of the normal-shaped loops (MinGiantKnownShare over "
             "GiantCandidateCount), else the pattern is indeterminate or its stage left open, as the C# classifier",
}
SIM_VERSION = "0.3.2"
# Versions whose training data (images, instance masks, classes and keypoint positions; training reads no visibility
# and no patient truth) are an earlier one's: a training cache or checkpoint of that one serves them as it is.
SAME_TRAINING_DATA = {"0.3.1": "0.3.0", "0.3.2": "0.3.1"}


def training_data_version(version=SIM_VERSION):
    """The earliest version whose training data `version` shares (followed through truth-only versions)."""
    seen = set()
    while version in SAME_TRAINING_DATA and version not in seen:
        seen.add(version)
        version = SAME_TRAINING_DATA[version]
    return version


def truth_is_current(path):
    """True when a cached study's truth file exists and this simulator version wrote it (an older one's truth differs)."""
    try:
        with open(path) as f:
            return json.load(f).get("info", {}).get("version") == SIM_VERSION
    except (OSError, ValueError):
        return False


def trained_sim_version(config):
    """The simulator version a training run's config names (runs before the key existed trained on 0.1.0)."""
    return config.get("sim_version", "0.1.0")
FINGERS = ["L2", "L3", "L4", "L5", "R2", "R3", "R4", "R5"]
PROFILE_CYCLE = ["healthy", "ssc-early", "ssc-active", "ssc-late"]
FORMATS = ("jpg", "png", "tif")
STUDY_FILE = re.compile(r"P\d{3}/(%s)/field\d+\.(%s)" % ("|".join(FINGERS), "|".join(FORMATS)))


def rle_encode(mask):
    """COCO uncompressed RLE: column-major run lengths, starting with a (possibly empty) run of zeros."""
    flat = mask.T.ravel().astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def field_seed(seed, patient, finger, field):
    return np.random.default_rng([seed, patient, finger, field, 0x4E4643])


def annotate(result, image_id, start_ann_id, um_per_px):
    """COCO annotations for one rendered field."""
    anns = []
    id_map = result["id_map"]
    for k, inst in enumerate(result["instances"]):
        mask = id_map == inst["id"]
        ys, xs = np.nonzero(mask)
        ann = {"id": start_ann_id + k, "image_id": image_id, "category_id": CLASSES.index(inst["category"]) + 1,
               "iscrowd": 0, "area": int(mask.sum()),
               "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
               "segmentation": rle_encode(mask), "distal": bool(inst["distal"]), "row": int(inst["row"])}
        if inst["keypoints"] is None:
            ann.update(keypoints=[0] * 24, num_keypoints=0, apical_diameter_um=None, arterial_diameter_um=None,
                       venous_diameter_um=None, apex=[round(float(v), 3) for v in inst["apex"]])
        else:
            kp = []
            h, w = id_map.shape
            inside_branches = inst.get("inside_branches", np.zeros(8, bool))
            for j, (x, y) in enumerate(inst["keypoints"]):
                in_frame = 0 <= x < w and 0 <= y < h
                # Drawn over by a later instance (a loop of the row in front, a hemorrhage), or inside the loop's own
                # bud or branch (the vessel goes on past it): labelled, not visible.
                owner = id_map[min(int(round(y)), h - 1), min(int(round(x)), w - 1)] if in_frame else 0
                v = 2 if in_frame and owner in (0, inst["id"]) and not inside_branches[j] else 1
                kp += [round(float(x), 3), round(float(y), 3), v]
            wd = inst["widths_um"]
            ann.update(keypoints=kp, num_keypoints=8, apex=[round(float(v), 3) for v in inst["apex"]],
                       apical_diameter_um=round(wd["apical"], 3),
                       arterial_diameter_um=round(min(wd["left"], wd["right"]), 3),
                       venous_diameter_um=round(max(wd["left"], wd["right"]), 3),
                       venous_limb="left" if wd["left"] > wd["right"] else "right")
        anns.append(ann)
    return anns


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="study folder to create (new or empty)")
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--profile", default="mixed",
                    help="healthy|ssc-early|ssc-active|ssc-late|mixed, or a comma list cycled over patients")
    ap.add_argument("--um-per-px", type=float, default=None, help="default: drawn from 1.5-3.0 per study")
    ap.add_argument("--size", default=None, help="WxH; default 1024x768 or 1280x1024 drawn per study")
    ap.add_argument("--fingers", default=",".join(FINGERS))
    ap.add_argument("--fields", default="1-2", help="fields per finger: N or MIN-MAX")
    ap.add_argument("--formats", default="jpg:0.85,png:0.1,tif:0.05", help="format:weight list")
    ap.add_argument("--jpeg-quality", default="75-95")
    ap.add_argument("--study-id", default=None, help="default: the folder name")
    ap.add_argument("--truth", default=None, help="default: DIR/../<study_id>.truth.json")
    ap.add_argument("--replace", action="store_true",
                    help="replace an earlier study this simulator wrote in --out (refused if anything else is there)")
    a = ap.parse_args(argv)
    try:
        validate(a)
    except ValueError as e:
        ap.error(str(e))
    return a


def validate(a):
    """Turns the text options into values (a.size, a.fields, a.formats, a.jpeg_quality, a.fingers, a.profiles) and
    rejects what the simulator cannot make, before anything is written."""
    if a.patients < 1 or a.patients > 999:
        raise ValueError(f"--patients must be 1-999 (patient folders are P001...), got {a.patients}")
    if a.seed < 0:
        raise ValueError(f"--seed must be 0 or more, got {a.seed}")
    if a.um_per_px is not None and not 0.5 <= a.um_per_px <= 10:
        raise ValueError(f"--um-per-px must be 0.5-10 (capillaroscopes: 1.5-3), got {a.um_per_px:g}")
    if a.size is not None:
        w, _, h = a.size.lower().partition("x")
        if not (w.isdigit() and h.isdigit() and 64 <= int(w) <= 8192 and 64 <= int(h) <= 8192):
            raise ValueError(f"--size must be WxH with each side 64-8192 px, got {a.size!r}")
        a.size = (int(w), int(h))
    a.profiles = PROFILE_CYCLE if a.profile == "mixed" else a.profile.split(",")
    for p in a.profiles:
        if p not in PROFILES:
            raise ValueError(f"unknown profile {p!r}; use one of {', '.join(PROFILES)} or mixed, or a comma list")
    a.fingers = a.fingers.split(",")
    for f in a.fingers:
        if f not in FINGERS:
            raise ValueError(f"unknown finger {f!r}; use some of {','.join(FINGERS)}")
    if len(set(a.fingers)) != len(a.fingers):
        raise ValueError(f"--fingers names a finger twice: {','.join(a.fingers)}")
    a.fields = _range(a.fields, "--fields", 1, 20)
    a.jpeg_quality = _range(a.jpeg_quality, "--jpeg-quality", 1, 100)
    formats = []
    for item in a.formats.split(","):
        name, _, weight = item.partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            value = -1.0
        if name not in FORMATS or not (math.isfinite(value) and value >= 0):   # nan, inf and 1e400 too
            raise ValueError(f"--formats takes {'/'.join(FORMATS)} with optional finite weights >= 0, got {item!r}")
        formats.append((name, value))
    total = sum(v for _, v in formats)
    if not total > 0:
        raise ValueError("--formats needs at least one weight above 0")
    if not math.isfinite(total):
        raise ValueError(f"--formats weights must add up to a finite number, got {a.formats!r}")
    a.formats = formats


def _range(text, option, low, high):
    """N or MIN-MAX within [low, high]."""
    lo, _, hi = text.partition("-")
    hi = hi or lo
    if not (lo.isdigit() and hi.isdigit() and low <= int(lo) <= int(hi) <= high):
        raise ValueError(f"{option} must be N or MIN-MAX within {low}-{high}, got {text!r}")
    return int(lo), int(hi)


def prepare_out(out, truth_path, replace):
    """Makes `out` ready for a new study: it must be new or empty, or with --replace hold only an earlier study of
    this simulator (study.json and P###/<finger>/field<k>.<ext>), which is then removed; anything else is refused and
    left as it is. The truth must lie outside the study folder, where the pipeline would take it for an image, and be
    no folder, in a folder that exists or that making the study folder makes: checked before anything is written."""
    if os.path.commonpath([out, os.path.abspath(truth_path)]) == out:
        sys.exit(f"--truth {truth_path} lies inside the study folder {out}; put it beside the folder")
    # Before anything is written: found only when the truth was written, after every image, it failed the whole run.
    if os.path.isdir(truth_path):
        sys.exit(f"--truth {truth_path} is a folder; name a file")
    truth_folder = os.path.dirname(os.path.abspath(truth_path))
    # Made with the study folder when it is above it (the default, beside the study); else it must exist.
    if not os.path.isdir(truth_folder) and os.path.commonpath([truth_folder, out]) != truth_folder:
        sys.exit(f"--truth {truth_path}: its folder does not exist")
    if os.path.exists(out) and not os.path.isdir(out):
        sys.exit(f"--out {out} exists and is not a folder")
    entries = os.listdir(out) if os.path.isdir(out) else []
    if entries and not replace:
        sys.exit(f"--out {out} is not empty; choose a new folder, or pass --replace to replace an earlier "
                 f"simulated study there")
    for root, dirs, files in os.walk(out):   # nothing is removed until every file is known to be ours
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), out)
            if not (rel == "study.json" or STUDY_FILE.fullmatch(rel.replace(os.sep, "/"))) \
                    or os.path.islink(os.path.join(root, name)):
                sys.exit(f"--replace: {out} holds {rel}, which this simulator did not write; nothing removed")
        for name in dirs:
            if os.path.islink(os.path.join(root, name)):
                sys.exit(f"--replace: {out} holds a link {name}; nothing removed")
    # The truth goes first: it means "this study is complete", and an interrupted rewrite must not leave the earlier
    # study's truth beside a folder holding part of the new one.
    for stale in (truth_path, truth_path + ".partial"):
        if os.path.isfile(stale) and not os.path.islink(stale):
            os.remove(stale)
    for name in entries:
        path = os.path.join(out, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    os.makedirs(out, exist_ok=True)


def main(argv=None):
    a = parse_args(argv)
    out = os.path.abspath(a.out)
    study_id = a.study_id or os.path.basename(out.rstrip("/"))
    truth_path = a.truth or os.path.join(os.path.dirname(out), study_id + ".truth.json")
    study_rng = np.random.default_rng([a.seed, 0x5354])
    um = a.um_per_px or round(float(study_rng.uniform(1.5, 3.0)), 3)
    w, h = a.size or ((1024, 768) if study_rng.random() < 0.6 else (1280, 1024))
    cast = ["neutral", "bluish", "yellowish", "pinkish"][int(study_rng.integers(0, 4))]
    profiles, fingers = a.profiles, a.fingers
    fmt_names, fmt_w = zip(*a.formats)
    fmt_p = np.array(fmt_w) / sum(fmt_w)
    q_lo, q_hi = a.jpeg_quality
    f_lo, f_hi = a.fields

    prepare_out(out, truth_path, a.replace)
    device = {"name": "SimCap VC-200 (synthetic)", "magnification": 200, "colour_cast": cast}
    with open(os.path.join(out, "study.json"), "w") as f:
        json.dump({"study_id": study_id, "um_per_px": um, "device": device,
                   "notes": f"synthetic study, nfc-sim {SIM_VERSION} seed {a.seed}"}, f, indent=2)

    images, anns, patients = [], [], []
    for pi in range(a.patients):
        patient = f"P{pi + 1:03d}"
        profile = profiles[pi % len(profiles)]
        p_imgs = []
        for fi, finger in enumerate(fingers):
            n_fields = int(np.random.default_rng([a.seed, pi, fi, 0x46]).integers(f_lo, f_hi + 1))
            for k in range(n_fields):
                rng = field_seed(a.seed, pi, FINGERS.index(finger), k)
                res = render_field(rng, profile, w, h, um, cast=cast)
                ext = fmt_names[int(rng.choice(len(fmt_names), p=fmt_p))]
                rel = f"{patient}/{finger}/field{k + 1}.{ext}"
                path = os.path.join(out, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                bgr = res["image"][..., ::-1]
                params = [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(q_lo, q_hi + 1))] if ext == "jpg" else []
                if ext == "tif":
                    params = [cv2.IMWRITE_TIFF_COMPRESSION, 5]  # LZW, as real capillaroscope exports
                if not cv2.imwrite(path, bgr, params):
                    sys.exit(f"could not write {path}")
                image_id = len(images) + 1
                img_anns = annotate(res, image_id, len(anns) + 1, um)
                counts, giants, dilated, giant_unknown = image_summary(img_anns)
                entry = {"id": image_id, "file_name": rel, "width": w, "height": h, "patient": patient,
                         "finger": finger, "field": k + 1, "profile": profile, "um_per_px": um,
                         "distal_count": res["distal_count"], "distal_row_length_mm": round(res["row_length_mm"], 4),
                         "density_per_mm": None if res["density_per_mm"] is None else round(res["density_per_mm"], 4), "distal_row_line": [
                             [round(float(v), 2) for v in p] for p in res["row_line"]] if res["row_line"] else None,
                         "nail_direction": [round(float(v), 4) for v in res["nail_direction"]],
                         "ungradable": res["ungradable"], "morphology_counts": counts,
                         "giant_count": int(giants), "giant_unknown_count": int(giant_unknown),
                         "dilated_count": int(dilated)}
                images.append(entry)
                anns += img_anns
                p_imgs.append(entry)
        patients.append(patient_truth(patient, profile, p_imgs))

    coco = {"info": {"description": f"nfc-sim {SIM_VERSION} synthetic NFC study", "version": SIM_VERSION,
                     "seed": a.seed, "study_id": study_id,
                     "conventions": {
                         "density": "distal-row capillaries whose apex is inside the frame / length (mm) of the "
                                    "distal row line clipped to the frame; blur-class loops count, hemorrhages not",
                         "keypoints": "ANFC order; U/D = outer/inner apex edge, limbs measured 30% down the loop; "
                                      "left = left side when viewed apex-up; v=0 for hemorrhages",
                         "venous": "the wider limb", "dilated_um": [DILATED_UM, GIANT_UM], "giant_um": GIANT_UM,
                         "patient_density": "mean, median and sample SD (n - 1) over gradable images; null when "
                                            "there is none (SD: under 2)",
                         "patient_counts": "morphology, loops (all classes but blur and hemorrhage), giant, "
                                           "dilated, abnormal and hemorrhage counts over gradable images only",
                         "pattern": "the C# FastTrackClassifier's rules and default thresholds: non_scleroderma, "
                                    "scleroderma_early|active|late, scleroderma (unstaged) or indeterminate",
                         "segmentation": "COCO uncompressed RLE (column-major), visible pixels"}},
            "images": images, "annotations": anns,
            "categories": [{"id": i + 1, "name": c, "supercategory": "capillary",
                            "keypoints": KEYPOINTS if c != "hemorrhage" else [], "skeleton": []}
                           for i, c in enumerate(CLASSES)],
            "patients": patients}
    # Written last and renamed into place: a truth file means its study is complete.
    with open(truth_path + ".partial", "w") as f:
        json.dump(coco, f, separators=(",", ":"))
    os.replace(truth_path + ".partial", truth_path)
    print(f"{study_id}: {len(images)} images, {len(anns)} annotations, {um} um/px, {w}x{h} -> {out}; "
          f"truth {truth_path}")


if __name__ == "__main__":
    main()
