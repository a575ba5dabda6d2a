#!/usr/bin/python3
"""Evaluates trained weights on a held-out simulated study (different seeds from training).

    evaluate.py --weights .local/model-train/final.pt [--study DIR --truth FILE | --seed 777 --patients 8
                [--fingers L2,L4,R3,R5]] [--out metrics.json]

--study and --truth go together. Without them it simulates one (mixed profiles) under the repository's .local/model-eval/ (NFC_LOCAL), named
heldout-SEED-PATIENTS (plus -FINGER-... when --fingers is not the default), and reuses it when its truth is there and
this simulator version wrote it.
It decodes the dense outputs as docs/model-contract.md describes (decode.py) and reports detection F1 at mask
IoU >= 0.5, class accuracy on matched instances, keypoint-derived diameter MAE in micrometres, and distal density
MAE per mm.
"""
import argparse
import json
import os
import sys
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import existing_dir, existing_file, positive_int  # noqa: E402
import simulate  # noqa: E402
import distal_row  # noqa: E402
from decode import ABLATIONS, DEFAULTS, decode, diameters_px, instance_mask  # noqa: E402
from nfcnet import OUTPUT_NAMES, STRIDE, DenseV1, net_for  # noqa: E402
from nfcsim_shapes import CLASSES  # noqa: E402
import repo_paths  # noqa: E402

MEAN, STD, MULTIPLE = 0.5, 0.25, 32


def rle_decode(rle):
    h, w = rle["size"]
    flat = np.zeros(h * w, np.uint8)
    pos, val = 0, 0
    for c in rle["counts"]:
        flat[pos:pos + c] = val
        pos += c
        val ^= 1
    return flat.reshape(w, h).T


def load_model(weights):
    st = torch.load(weights, map_location="cpu")
    net = net_for(st, len(CLASSES))
    net.load_state_dict(st.get("ema", st["model"]))  # a checkpoint's weight average is what gets exported
    return DenseV1(net.eval()), st


def model_input(rgb):
    """The contract's input for one RGB image: normalised, padded right/bottom to a multiple of 32 (short_side 0)."""
    h, w = rgb.shape[:2]
    ph, pw = -(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE
    x = np.zeros((1, 3, ph, pw), np.float32)
    x[0, :, :h, :w] = ((rgb.astype(np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1)
    return x


def run_model(model, rgb):
    """Runs one image through the eager model and crops the padding away."""
    h, w = rgb.shape[:2]
    x = model_input(rgb)
    with torch.no_grad():
        outs = model(torch.from_numpy(x))
    return {n: o[0, :, : -(-h // STRIDE), : -(-w // STRIDE)].numpy() for n, o in zip(OUTPUT_NAMES, outs)}


IMAGE_KEYS = ("id", "file_name", "um_per_px", "density_per_mm", "ungradable")
ANNOTATION_KEYS = ("image_id", "category_id", "segmentation", "keypoints", "apical_diameter_um", "arterial_diameter_um",
                   "venous_diameter_um", "distal")


def truth_problem(coco, study):
    """Why this truth cannot be evaluated here, or None. This reads the simulator's truth (simulate.py): its per-image
    calibration and density, per-capillary diameters and uncompressed RLE masks; found before the model runs over
    every image, not as a traceback part way (`ops/nfc evaluate` reads other COCO truth)."""
    for img in coco.get("images", []):
        missing = [k for k in IMAGE_KEYS if k not in img]
        if missing:
            return f"image {img.get('id', '?')} has no {', '.join(missing)} (this takes simulate.py's truth; use ops/nfc evaluate for other COCO files)"
        if not os.path.isfile(os.path.join(study, img["file_name"])):
            return f"image {img['id']}: {img['file_name']} is not in {study}"
    for a in coco.get("annotations", []):
        missing = [k for k in ANNOTATION_KEYS if k not in a]
        if missing:
            return f"annotation {a.get('id', '?')} has no {', '.join(missing)} (this takes simulate.py's truth)"
        if not (isinstance(a["segmentation"], dict) and isinstance(a["segmentation"].get("counts"), list)):
            return f"annotation {a.get('id', '?')}: only uncompressed RLE masks are read (simulate.py's)"
    return None


def evaluate(model, study, truth, opts=None):
    coco = json.load(open(truth))
    if (problem := truth_problem(coco, study)) is not None:
        raise SystemExit(f"evaluate.py: {truth}: {problem}")
    by_image = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    tp = fp = fn = 0
    cls_ok = cls_n = 0
    diam_err = {"apical": [], "arterial": [], "venous": []}
    diam_pairs = {"apical": [], "arterial": [], "venous": []}
    diam_err_loops = {"apical": [], "arterial": [], "venous": []}
    diam_err_distal = {"apical": [], "arterial": [], "venous": []}
    diam_err_abl = {name: {"apical": [], "arterial": [], "venous": []} for name in ABLATIONS}
    dens_err, dens_err_gradable, dens_missing = [], [], []
    dens_err_abl = {name: ([], []) for name in ABLATIONS}
    confusion = np.zeros((len(CLASSES), len(CLASSES)), int)
    t_infer = 0.0
    for img in coco["images"]:
        bgr = cv2.imread(os.path.join(study, img["file_name"]), cv2.IMREAD_COLOR)
        rgb = bgr[..., ::-1]
        h, w = rgb.shape[:2]
        t0 = time.time()
        outs = run_model(model, rgb)
        t_infer += time.time() - t0
        x = model_input(rgb)[0]
        preds = decode(outs, STRIDE, (w, h), (w, h), opts, x)
        # The same maps with decoding steps switched off: identical masks and classes, only keypoints differ.
        ablated = {name: decode(outs, STRIDE, (w, h), (w, h), dict(opts or DEFAULTS, **change), x)
                   for name, change in ABLATIONS.items()}
        gts = by_image.get(img["id"], [])
        gt_lab = np.zeros((h, w), np.int32)
        for k, a in enumerate(gts, start=1):
            gt_lab[rle_decode(a["segmentation"]) > 0] = k
        # Each mask once: the ablations decode the same instances in the same order.
        masks = [instance_mask(p["cells"], STRIDE, (w, h), (w, h)) for p in preds]
        for decoded in [preds, *ablated.values()]:
            for p, m in zip(decoded, masks):
                p["mask"] = m
        pr_lab = np.zeros((h, w), np.int32)
        for k, m in enumerate(masks, start=1):
            pr_lab[m] = k
        inter = np.zeros((len(gts) + 1, len(preds) + 1), np.int64)
        np.add.at(inter, (gt_lab.ravel(), pr_lab.ravel()), 1)
        area_g, area_p = inter.sum(1), inter.sum(0)
        iou = inter / np.maximum(area_g[:, None] + area_p[None, :] - inter, 1)
        iou = iou[1:, 1:]
        matches = []
        while iou.size and iou.max() >= 0.5:   # greedy one-to-one matching by IoU
            g, p = np.unravel_index(int(iou.argmax()), iou.shape)
            matches.append((g, p))
            iou[g, :], iou[:, p] = -1, -1
        tp += len(matches)
        fp += len(preds) - len(matches)
        fn += len(gts) - len(matches)
        um = img["um_per_px"]
        for g, p in matches:
            a, pr = gts[g], preds[p]
            gc, pc = a["category_id"] - 1, int(np.argmax(pr["cls_prob"]))
            confusion[gc, pc] += 1
            cls_ok += gc == pc
            cls_n += 1
            # Diameters only for capillaries whose 8 keypoints all lie in the frame.
            pred_d = [v * um for v in diameters_px(pr["keypoints"])]
            if a["apical_diameter_um"] is not None and all(v == 2 for v in a["keypoints"][2::3]):
                for name, key, pv in zip(("apical", "arterial", "venous"),
                                         ("apical_diameter_um", "arterial_diameter_um", "venous_diameter_um"),
                                         pred_d):
                    diam_err[name].append(abs(pv - a[key]))
                    diam_pairs[name].append((pv, a[key]))
                    # True class not blur. Not the C# "pairs predicted as loops" (`ops/nfc evaluate`): that filters on the
                    # predicted class, gradable fields and the confidence gate, as a patient's diameter statistics do.
                    if CLASSES[gc] != "blur":
                        diam_err_loops[name].append(abs(pv - a[key]))
                    if a["distal"]:   # the row capillaroscopy reads; the rows behind it are fainter and blurrier
                        diam_err_distal[name].append(abs(pv - a[key]))
                for abl, decoded in ablated.items():
                    for name, key, pv in zip(("apical", "arterial", "venous"),
                                             ("apical_diameter_um", "arterial_diameter_um", "venous_diameter_um"),
                                             [v * um for v in diameters_px(decoded[p]["keypoints"])]):
                        diam_err_abl[abl][name].append(abs(pv - a[key]))
        for decoded, (errors, gradable_errors) in [(preds, (dens_err, dens_err_gradable))] + \
                [(ablated[n], dens_err_abl[n]) for n in ABLATIONS]:
            caps = [p for p in decoded if CLASSES[int(np.argmax(p["cls_prob"]))] != "hemorrhage"]
            _, _, dens = distal_row.find(caps, w, h, um, lambda c: c["mask"])
            # Every loop cut by the frame, or a truth row too short to measure: no density, left out as `ops/nfc
            # evaluate` does.
            if dens is None or img["density_per_mm"] is None:
                if decoded is preds and dens is None and img["density_per_mm"] is not None:
                    dens_missing.append(img["file_name"])
                continue
            errors.append(abs(dens - img["density_per_mm"]))
            if not img["ungradable"]:
                gradable_errors.append(abs(dens - img["density_per_mm"]))
    prec = tp / max(tp + fp, 1)
    rec = tp / max(tp + fn, 1)
    res = {
        "images": len(coco["images"]), "gt_instances": tp + fn, "pred_instances": tp + fp,
        "um_per_px": sorted({round(float(i["um_per_px"]), 3) for i in coco["images"]}),
        "precision": prec, "recall": rec, "f1_iou50": 2 * prec * rec / max(prec + rec, 1e-9),
        "class_accuracy_matched": cls_ok / max(cls_n, 1),
        "diameter_mae_um": {k: float(np.mean(v)) if v else None for k, v in diam_err.items()},
        "diameter_mean_abs_diff_um": {k: abs(float(np.mean([p for p, _ in v]) - np.mean([t for _, t in v])))
                                      if v else None for k, v in diam_pairs.items()},
        "diameter_n": len(diam_err["apical"]),
        "diameter_mae_um_loops": {k: float(np.mean(v)) if v else None for k, v in diam_err_loops.items()},
        "diameter_n_loops": len(diam_err_loops["apical"]),
        "diameter_mae_um_distal": {k: float(np.mean(v)) if v else None for k, v in diam_err_distal.items()},
        "diameter_n_distal": len(diam_err_distal["apical"]),
        "ablations": {n: {"diameter_mae_um": {k: float(np.mean(v)) if v else None for k, v in diam_err_abl[n].items()},
                          "density_mae_per_mm": float(np.mean(dens_err_abl[n][0])) if dens_err_abl[n][0] else None,
                          "density_mae_per_mm_gradable": float(np.mean(dens_err_abl[n][1])) if dens_err_abl[n][1] else None}
                      for n in ABLATIONS},
        # None, not NaN (invalid JSON), when no image has a density to compare: every loop cut by the frame, say.
        "density_mae_per_mm": float(np.mean(dens_err)) if dens_err else None,
        # Over how many images, and how many with a true density got none from the model (left out of the MAE, as
        # `ops/nfc evaluate` leaves them out): a model that places no row must not look better for it.
        "density_n": len(dens_err), "density_missing": len(dens_missing),
        "density_mae_per_mm_gradable": float(np.mean(dens_err_gradable)) if dens_err_gradable else None,
        "confusion_rows_truth_cols_pred": {"classes": CLASSES, "matrix": confusion.tolist()},
        "eager_seconds_per_image": t_infer / max(len(coco["images"]), 1),
    }
    return res


DEFAULT_FINGERS = "L2,L4,R3,R5"


def heldout_name(seed, patients, fingers):
    """The cached held-out study's folder name. The fingers are part of it, so a cache simulated with other fingers
    is never reused; the default fingers keep the plain heldout-SEED-PATIENTS that ops/lib/common.sh and the model
    card name."""
    name = f"heldout-{seed}-{patients}"
    return name if ",".join(fingers) == DEFAULT_FINGERS else name + "-" + "-".join(fingers)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, type=existing_file)
    ap.add_argument("--study", type=existing_dir)
    ap.add_argument("--truth", type=existing_file)
    ap.add_argument("--seed", type=int, default=777, help="simulation seed of the held-out study")
    ap.add_argument("--patients", type=positive_int, default=8)
    ap.add_argument("--fingers", default=DEFAULT_FINGERS,
                    help="fingers of the simulated held-out study (part of its cached folder's name)")
    ap.add_argument("--out")
    ap.add_argument("--threads", type=positive_int, default=2)
    ap.add_argument("--center-threshold", type=float, default=DEFAULTS["center_threshold"])
    ap.add_argument("--mask-threshold", type=float, default=DEFAULTS["mask_threshold"])
    a = ap.parse_args(argv)
    if (a.study is None) != (a.truth is None):
        ap.error("--study and --truth go together: give both, or neither to simulate the held-out study")
    fingers = a.fingers.split(",")
    if not set(fingers) <= set(simulate.FINGERS) or len(set(fingers)) != len(fingers):
        ap.error(f"argument --fingers: use distinct fingers of {','.join(simulate.FINGERS)}, got {a.fingers!r}")
    torch.set_num_threads(a.threads)
    study, truth = a.study, a.truth
    if not study:
        study = repo_paths.local("model-eval", heldout_name(a.seed, a.patients, fingers))
        truth = study + ".truth.json"
        if not simulate.truth_is_current(truth):
            simulate.main(["--out", study, "--replace", "--patients", str(a.patients), "--seed", str(a.seed),
                           "--fingers", a.fingers, "--fields", "1"])
    model, st = load_model(a.weights)
    opts = dict(DEFAULTS, center_threshold=a.center_threshold, mask_threshold=a.mask_threshold)
    res = evaluate(model, study, truth, opts)
    with open(truth) as f:
        truth_version = json.load(f).get("info", {}).get("version")
    res.update(decoder=opts, study=study, truth=truth, truth_version=truth_version, weights=a.weights, steps=st.get("step"),
               heldout_seed=a.seed if not a.study else None)
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
