"""Decodes dense/v1 outputs into capillary instances, as docs/model-contract.md describes, and derives the
diameters the evaluation compares from their keypoints (the distal row and its density: distal_row.py).

This mirrors the C# decoder for evaluation at training time; the pipeline's own decoder is the reference.
"""
import numpy as np
from scipy import ndimage


DEFAULTS = dict(mask_threshold=0.5, center_threshold=0.15, center_nms_radius=16.0, max_group_distance=48.0,
                min_instance_area=24.0, keypoint_search_margin=6.0, max_instances=500, paired_keypoints=True, pair_peak_candidates=6, limb_pair_reach_radii=2.5,
                limb_pair_nearest_fraction=0.8, limb_sides=True, apex_pair_reach_radii=7.0, apex_min_widths=0.6,
                keypoint_vote_radius=1,
                orient_by_consensus=True, orientation_min_instances=3, orientation_min_coherence=0.5,
                orientation_min_cosine=0.5, orientation_min_apex_confidence=0.08, orient_by_brightness=True,
                orientation_min_axis_coherence=0.3, orientation_min_brightness_correlation=0.2)
# The C# decoder's defaults (DenseDecoderOptions; docs/model-contract.md "Decoding"), in input pixels as there (an area
# in pixels², a margin in pixels: in cells they hold at one stride only). paired_keypoints: U with D, LL
# with LR and RL with RR are chosen together, the second within reach of the first, so both edges of one diameter come
# from the same cross-section; D no closer to U than apex_min_widths vessel widths (an apex is no narrower than its
# limbs). keypoint_vote_radius: keypoints are the heatmap-weighted mean of the offset votes near the peak.
# orient_by_consensus: loops pointing against the field's consensus get their apex searched again;
# orient_by_brightness: where their directions cancel out but their axes agree, the axis points to the field's brighter
# end (the nail's).
# ABLATIONS: the steps switched off one by one, for the model card.
ABLATIONS = {
    "independent argmax per channel": dict(paired_keypoints=False, limb_sides=False, keypoint_vote_radius=0,
                                           orient_by_consensus=False),
    "paired edges, each limb on its own side": dict(apex_min_widths=0.0, keypoint_vote_radius=0,
                                                    orient_by_consensus=False),
    "paired edges, limb sides + orientation consensus": dict(apex_min_widths=0.0, keypoint_vote_radius=0),
    "the above + the apex's minimum width": dict(keypoint_vote_radius=0),
}
FIRST_OF = {0: 1, 2: 3, 4: 5}  # first edge -> second edge of each diameter


def decode(outputs, stride, image_size, model_size, opts=None, model_input=None):
    """outputs: dict of arrays [C, h, w] for one image. image_size/model_size: (width, height) of the original
    image and of the resized (unpadded) model input. model_input: that input [3, H, W] (normalised, padding allowed),
    for orient_by_brightness. Returns a list of instance dicts in original pixels."""
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
            if len(kept) == o["max_instances"]:
                break
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
    instances = []
    for k in range(len(pi)):
        cells = labels == k + 1
        n = int(cells.sum())
        if n * stride * stride < o["min_instance_area"]:
            continue
        ci, cj = np.nonzero(cells)
        # As the C# decoder: the cells within the search margin (square) of the mask, other instances' cells left out.
        margin = int(np.ceil(o["keypoint_search_margin"] / stride))
        region = ndimage.binary_dilation(cells, structure=np.ones((3, 3), bool), iterations=margin)
        region &= (labels == 0) | cells
        instances.append(dict(cells=cells, region=region, cls_prob=_softmax(logits[:, ci, cj].mean(1)),
                              score=float(center[pi[k], pj[k]] * cap[ci, cj].mean()),
                              keypoints=_locate(outputs, cells, region, px, py, o),
                              radius=outputs["radius"][0][ci, cj]))
    if o["orient_by_consensus"]:
        _reorient(outputs, instances, px, py, o, sx, sy, model_input, model_size, image_size)
    for inst in instances:
        kps = _off_picture_unconfident(inst.pop("keypoints"), sx, sy, image_size)
        kps[:, 0] = (kps[:, 0] + 0.5) * sx - 0.5   # model to original pixel indices, about pixel centres (as C#)
        kps[:, 1] = (kps[:, 1] + 0.5) * sy - 0.5
        inst["keypoints"] = kps
        inst["radius"] = inst["radius"] * (sx + sy) / 2
        del inst["region"]
    return instances


def _softmax(mean_logits):
    """The class probabilities of an instance: the softmax of its cells' mean logits, as the contract and C# define them
    (not the mean of per-cell softmaxes, which can pick another class)."""
    e = np.exp(mean_logits - mean_logits.max())
    return e / e.sum()


def _locate(outputs, cells, region, px, py, o, along=None):
    """The instance's 8 keypoints in model pixels, (x, y, confidence). With `along` (a unit direction), U and D are
    searched only in the half of the region furthest along it and LB, RB only in the other half."""
    kph, kpo = outputs["keypoints"], outputs.get("keypoint_offset")
    radii = outputs["radius"][0][cells]
    # As the C# decoder: D within apex_pair_reach_radii median radii of U (a dilated apex is wider than the limbs); LR
    # and RR within limb_pair_reach_radii vessel radii of LL and RL, the vessel radius being the 90th percentile (the
    # centreline's half-width; the median, mostly cells near the edges, is about a quarter of the width). D no closer
    # than apex_min_widths vessel widths, when any candidate lies that far.
    apex_reach = o["apex_pair_reach_radii"] * float(np.median(radii))
    vessel = float(np.percentile(radii, 90))
    limb_reach = o["limb_pair_reach_radii"] * vessel
    apex_min = o["apex_min_widths"] * 2 * vessel
    near = {1: max(apex_reach, 6.0), 3: max(limb_reach, 6.0), 5: max(limb_reach, 6.0)}
    apex_region = base_region = region
    if along is not None:
        proj = px * along[0] + py * along[1]
        lo, hi = proj[region].min(), proj[region].max()
        middle = lo + 0.5 * (hi - lo)
        apex_region, base_region = region & (proj >= middle), region & (proj <= middle)
    search = {0: apex_region, 1: apex_region, 6: base_region, 7: base_region}
    picked = {}
    sides = None   # the limbs' search regions, once U is known
    for q in range(8):
        if q in picked:
            continue
        if o["limb_sides"] and q in (2, 3, 4, 5) and sides is None:
            sides = _limb_sides(cells, region, px, py, picked[0])
        where = sides[q] if sides and q in sides else search.get(q, region)
        partner = FIRST_OF.get(q) if o["paired_keypoints"] else None
        if partner is None:
            hm = np.where(where, kph[q], -1)
            picked[q] = np.unravel_index(int(hm.argmax()), hm.shape)
            continue
        # As the C# decoder: of the first edge's strongest local peaks, the one whose best partner within
        # reach gives the highest product of confidences.
        first = np.where(where, kph[q], -1)
        local = (kph[q] == ndimage.maximum_filter(kph[q], size=3)) & where
        cand = list(zip(*np.nonzero(local)))
        cand.sort(key=lambda c: -first[c])
        cand = cand[: o["pair_peak_candidates"]]
        top = np.unravel_index(int(first.argmax()), first.shape)
        if top not in cand:
            cand.append(top)
        best = None
        for ci_, cj_ in cand:
            dist2 = (px - px[ci_, cj_]) ** 2 + (py - py[ci_, cj_]) ** 2
            allowed = where & (dist2 <= near[partner] ** 2)
            if partner == 1 and apex_min > 0:
                far = allowed & (dist2 >= apex_min ** 2)
                allowed = far if far.any() else allowed
            hm = np.where(allowed, kph[partner], -1)
            i, j = np.unravel_index(int(hm.argmax()), hm.shape)
            f = o["limb_pair_nearest_fraction"]
            if f > 0 and partner != 1 and hm[i, j] > 0:
                # As the C# decoder: a limb edge's heatmap is a ridge along the limb, and its strongest cell may lie at
                # another height. The nearest cell that is nearly as strong (ties: the stronger) is where the ridge
                # crosses the first edge's cross-section.
                strong = hm >= f * hm[i, j]
                d2 = np.where(strong, (px - px[ci_, cj_]) ** 2 + (py - py[ci_, cj_]) ** 2 - 1e-3 * hm, np.inf)
                i, j = np.unravel_index(int(d2.argmin()), d2.shape)
            joint = max(kph[q, ci_, cj_], 0) * max(kph[partner, i, j], 0)   # not `score`: that is the instance's
            if best is None or joint > best[0]:
                best = (joint, (ci_, cj_), (i, j))
        picked[q], picked[partner] = best[1], best[2]
    kps = np.zeros((8, 3), np.float32)
    r = o["keypoint_vote_radius"]
    h, w = kph.shape[1:]
    for q in range(8):
        i, j = picked[q]
        x, y = px[i, j], py[i, j]
        if kpo is not None:
            # As the C# decoder: the heatmap-weighted mean of the offset votes of the region's cells near the peak.
            i0, i1, j0, j1 = max(i - r, 0), min(i + r + 1, h), max(j - r, 0), min(j + r + 1, w)
            wt = np.maximum(kph[q, i0:i1, j0:j1], 0) * region[i0:i1, j0:j1]
            if wt.sum() > 0:
                x = float((wt * (px[i0:i1, j0:j1] + kpo[2 * q, i0:i1, j0:j1])).sum() / wt.sum())
                y = float((wt * (py[i0:i1, j0:j1] + kpo[2 * q + 1, i0:i1, j0:j1])).sum() / wt.sum())
            else:
                x, y = x + kpo[2 * q, i, j], y + kpo[2 * q + 1, i, j]
        kps[q] = (x, y, kph[q, i, j])
    return kps


def _limb_sides(cells, region, px, py, up):
    """As the C# decoder: LL, LR searched left of the line from the centroid to U's cell (viewed apex-up), RL, RR right
    of it; {} (no split) without a direction or when rounding leaves one side empty."""
    ci, cj = np.nonzero(cells)
    cx, cy = px[ci, cj].mean(), py[ci, cj].mean()
    axis = np.array([px[up] - cx, py[up] - cy])
    norm = np.linalg.norm(axis)
    if norm <= 1e-6:
        return {}
    axis /= norm
    side = (px - cx) * axis[1] - (py - cy) * axis[0]   # > 0: left of the loop viewed apex-up
    left, right = region & (side >= 0), region & (side <= 0)
    if not (left.any() and right.any()):
        return {}
    return {2: left, 3: left, 4: right, 5: right}


def _direction(kps):
    v = kps[0, :2] - (kps[6, :2] + kps[7, :2]) / 2
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-3 else None


def _off_picture_unconfident(kps, sx, sy, image_size):
    """Keypoints (model pixels) with confidence 0 where they land off the picture in original pixels (a partial last
    cell, offsets voting into the padding), as the C# ResizePlan.IsOnPicture rules, in double precision (a copy)."""
    kps = np.array(kps, np.float64)
    x, y = (kps[:, 0] + 0.5) * sx - 0.5, (kps[:, 1] + 0.5) * sy - 0.5
    off = (x < -0.5 - 1e-4) | (y < -0.5 - 1e-4) | (x > image_size[0] - 0.5 + 1e-4) | (y > image_size[1] - 0.5 + 1e-4)
    kps[off, 2] = 0.0
    return kps


def _reorient(outputs, instances, px, py, o, sx, sy, model_input=None, model_size=None, image_size=None):
    """As the C# KeypointOrientation: loops whose base -> apex direction goes against the field's consensus get their
    apex searched again towards the nail; the result stands when the new U is confident enough."""
    dirs = [d for d in (_direction(i["keypoints"] * [sx, sy, 1]) for i in instances) if d is not None]
    if len(dirs) < o["orientation_min_instances"]:
        return
    total = np.sum(dirs, axis=0)
    if np.linalg.norm(total) > 0 and np.linalg.norm(total) / len(dirs) >= o["orientation_min_coherence"]:
        consensus = total / np.linalg.norm(total)
    elif model_input is not None and o["orient_by_brightness"]:
        consensus = _axis_towards_brightness(np.array(dirs), model_input, model_size, sx, sy, o)
        if consensus is None:
            return
    else:
        return
    in_model = consensus / [sx, sy]
    in_model /= np.linalg.norm(in_model)
    for inst in instances:
        d = _direction(inst["keypoints"] * [sx, sy, 1])
        if d is not None and d @ consensus >= o["orientation_min_cosine"]:
            continue
        again = _locate(outputs, inst["cells"], inst["region"], px, py, o, in_model)
        if image_size is not None:   # ruled before the gate, as the C# locator maps each keypoint as it finds it
            again = _off_picture_unconfident(again, sx, sy, image_size)
        if again[0, 2] >= o["orientation_min_apex_confidence"]:
            inst["keypoints"] = again


BRIGHTNESS_BLOCK = 16   # model input pixels, as the C# FieldBrightness


def _axis_towards_brightness(dirs, model_input, model_size, sx, sy, o):
    """As the C# KeypointOrientation: the loops' common axis (doubled angles, so opposite directions agree), pointed
    to the field's brighter end when brightness and position along it correlate enough; else None."""
    c2 = np.array([(dirs[:, 0] ** 2 - dirs[:, 1] ** 2).sum(), (2 * dirs[:, 0] * dirs[:, 1]).sum()])
    if np.linalg.norm(c2) == 0 or np.linalg.norm(c2) / len(dirs) < o["orientation_min_axis_coherence"]:
        return None
    angle = np.arctan2(c2[1], c2[0]) / 2
    axis = np.array([np.cos(angle), np.sin(angle)])
    w, h = model_size
    lum = np.asarray(model_input, np.float64)[:, :h, :w].mean(0)
    b = BRIGHTNESS_BLOCK
    xs, ys, vs = [], [], []
    for y0 in range(0, h, b):
        for x0 in range(0, w, b):
            y1, x1 = min(y0 + b, h) - 1, min(x0 + b, w) - 1
            vs.append(lum[y0:y1 + 1, x0:x1 + 1].mean())
            xs.append(((x0 + x1) / 2 + 0.5) * sx - 0.5)
            ys.append(((y0 + y1) / 2 + 0.5) * sy - 0.5)
    p, v = np.array(xs) * axis[0] + np.array(ys) * axis[1], np.array(vs)
    p, v = p - p.mean(), v - v.mean()
    den = np.sqrt((p * p).sum() * (v * v).sum())
    r = (p * v).sum() / den if den > 0 else 0.0
    if not abs(r) >= o["orientation_min_brightness_correlation"]:
        return None
    return axis if r > 0 else -axis


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
