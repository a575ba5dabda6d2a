"""Decodes dense/v1 outputs into capillary instances, as docs/model-contract.md describes, and derives the
diameters the evaluation compares from their keypoints (the distal row and its density: distal_row.py).

This mirrors the C# decoder for evaluation at training time; the pipeline's own decoder is the reference.
"""
import numpy as np
from scipy import ndimage


DEFAULTS = dict(mask_threshold=0.5, center_threshold=0.15, center_nms_radius=16.0, max_group_distance=48.0, min_cells=6,
                keypoint_margin=3, paired_keypoints=False, pair_peak_candidates=6)
# paired_keypoints (the C# default; the card reports both): U with D, LL with LR and RL with RR are chosen together,
# the second within reach of the first, so both edges of one diameter come from the same cross-section.
FIRST_OF = {0: 1, 2: 3, 4: 5}  # first edge -> second edge of each diameter


def decode(outputs, stride, image_size, model_size, opts=None):
    """outputs: dict of arrays [C, h, w] for one image. image_size/model_size: (width, height) of the original
    image and of the resized (unpadded) model input. Returns a list of instance dicts in original pixels."""
    o = dict(DEFAULTS, **(opts or {}))
    cap, center, off = outputs["capillary"][0], outputs["center"][0], outputs["offset"]
    h, w = cap.shape
    sx, sy = image_size[0] / model_size[0], image_size[1] / model_size[1]
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    px, py = (jj + 0.5) * stride - 0.5, (ii + 0.5) * stride - 0.5

    fg = cap >= o["mask_threshold"]
    peaks = (center == ndimage.maximum_filter(center, size=3)) & (center >= o["center_threshold"])
    pi, pj = np.nonzero(peaks)
    # Strongest first; a peak within center_nms_radius of one already kept is the same loop (as the C# decoder).
    order = np.argsort(-center[pi, pj], kind="stable")
    kept = []
    for k in order:
        if all((px[pi[k], pj[k]] - px[pi[m], pj[m]]) ** 2 + (py[pi[k], pj[k]] - py[pi[m], pj[m]]) ** 2
               > o["center_nms_radius"] ** 2 for m in kept):
            kept.append(k)
    pi, pj = pi[kept], pj[kept]
    if len(pi) == 0 or not fg.any():
        return []
    cx, cy = px[pi, pj], py[pi, pj]
    fi, fj = np.nonzero(fg)
    vx, vy = px[fi, fj] + off[0][fi, fj], py[fi, fj] + off[1][fi, fj]
    d2 = (vx[:, None] - cx[None]) ** 2 + (vy[:, None] - cy[None]) ** 2
    owner = d2.argmin(1)
    keep = d2[np.arange(len(owner)), owner] <= o["max_group_distance"] ** 2
    labels = np.zeros((h, w), np.int32)
    labels[fi[keep], fj[keep]] = owner[keep] + 1

    logits = outputs["class_logits"]
    prob = np.exp(logits - logits.max(0, keepdims=True))
    prob /= prob.sum(0, keepdims=True)
    kph, kpo = outputs["keypoints"], outputs.get("keypoint_offset")
    instances = []
    for k in range(len(pi)):
        cells = labels == k + 1
        n = int(cells.sum())
        if n < o["min_cells"]:
            continue
        ci, cj = np.nonzero(cells)
        cls_prob = prob[:, ci, cj].mean(1)
        score = float(center[pi[k], pj[k]] * cap[ci, cj].mean())
        region = ndimage.binary_dilation(cells, iterations=o["keypoint_margin"])
        kps = np.zeros((8, 3), np.float32)
        med_r = float(np.median(outputs["radius"][0][ci, cj]))
        # As the C# decoder: D within 7 median radii of U (a dilated apex is wider than the limbs), limb edges 4.
        near = {1: max(7 * med_r, 6.0), 3: max(4 * med_r, 6.0), 5: max(4 * med_r, 6.0)}
        picked = {}
        for q in range(8):
            if q in picked:
                continue
            partner = FIRST_OF.get(q) if o["paired_keypoints"] else None
            if partner is None:
                hm = np.where(region, kph[q], -1)
                picked[q] = np.unravel_index(int(hm.argmax()), hm.shape)
                continue
            # As the C# decoder: of the first edge's strongest local peaks, the one whose best partner within
            # reach gives the highest product of confidences.
            first = np.where(region, kph[q], -1)
            local = (kph[q] == ndimage.maximum_filter(kph[q], size=3)) & region
            cand = list(zip(*np.nonzero(local)))
            cand.sort(key=lambda c: -first[c])
            cand = cand[: o["pair_peak_candidates"]]
            top = np.unravel_index(int(first.argmax()), first.shape)
            if top not in cand:
                cand.append(top)
            best = None
            for ci_, cj_ in cand:
                allowed = region & ((px - px[ci_, cj_]) ** 2 + (py - py[ci_, cj_]) ** 2 <= near[partner] ** 2)
                hm = np.where(allowed, kph[partner], -1)
                i, j = np.unravel_index(int(hm.argmax()), hm.shape)
                joint = max(kph[q, ci_, cj_], 0) * max(kph[partner, i, j], 0)   # not `score`: that is the instance's
                if best is None or joint > best[0]:
                    best = (joint, (ci_, cj_), (i, j))
            picked[q], picked[partner] = best[1], best[2]
        for q in range(8):
            i, j = picked[q]
            if kpo is not None:
                x, y = px[i, j] + kpo[2 * q, i, j], py[i, j] + kpo[2 * q + 1, i, j]
            else:
                x, y = px[i, j], py[i, j]
            kps[q] = (x * sx, y * sy, kph[q, i, j])
        instances.append(dict(cells=cells, cls_prob=cls_prob, score=score, keypoints=kps,
                              radius=outputs["radius"][0][ci, cj] * (sx + sy) / 2))
    return instances


def instance_mask(cells, stride, model_size, image_size):
    """Cells -> mask in original pixels (each cell covers stride x stride model pixels)."""
    m = np.kron(cells.astype(np.uint8), np.ones((stride, stride), np.uint8))[: model_size[1], : model_size[0]]
    if model_size != image_size:
        import cv2
        m = cv2.resize(m, image_size, interpolation=cv2.INTER_NEAREST)
    return m.astype(bool)


def diameters_px(kps):
    """Apical, arterial (narrower limb) and venous (wider limb) diameters from ANFC keypoints, in pixels."""
    u, d, ll, lr, rl, rr = (kps[i, :2] for i in range(6))
    limbs = sorted([np.linalg.norm(ll - lr), np.linalg.norm(rl - rr)])
    return float(np.linalg.norm(u - d)), limbs[0], limbs[1]
