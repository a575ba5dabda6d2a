"""The distal row and its density, as the C# `DistalRowFinder` (src/NfcPipeline.Core/Measurements) finds them with
its default options, so the training-time evaluation measures density the way the pipeline does.

Keypoints below the measurement's confidence gate (0.08) are unusable. An apex is U, or, without a usable U, the
mask pixel furthest along the distal axis. The axis comes from the loops (limb bottoms -> U), else from the masks
(centroid -> apex), else from a line through the apices, or the centroids of loops without one (oriented up). Apices are split into rows at depth gaps,
depth taken across the rows (a line fit through all apices, when they lie in rows; else along that axis);
the front row keeps those not hidden by an apex further out within one loop width sideways, and none far behind
the row; with 3 or more, a line fit through them refines the axis and the selection runs again. Loops whose mask
runs out of the frame beyond their U along that axis (the apex outside the image) leave the row, found again without them.
"""
import numpy as np

from nfcsim_render import clip_line

MIN_CONFIDENCE = float(np.float32(0.08))   # MeasurementOptions.MinKeypointConfidence, compared as a float as in C#
BAND_OF_HEIGHT, FALLBACK_BAND_UM = 0.5, 100.0
WINDOW_OF_WIDTH, FALLBACK_WINDOW_UM = 1.0, 80.0
BEHIND_OF_HEIGHT, FALLBACK_BEHIND_UM = 1.0, 200.0
ROW_GAP_OF_HEIGHT, MIN_ROW_GAP_UM, MIN_ROW_SHARE = 0.4, 60.0, 0.3
MIN_FOR_FIT, MIN_ELONGATION, MAX_FIT_DEGREES = 3, 3.0, 45.0
APEX_CUT_MARGIN_PX = 2.0       # MeasurementOptions.ApexCutByFrameMarginPx
MIN_ROW_LENGTH_MM = 0.5        # DistalRowOptions.MinRowLengthMm: a shorter row line gives no density


def _usable(k):
    return k[2] >= MIN_CONFIDENCE and np.isfinite(k[0]) and np.isfinite(k[1])


def _perp(v):
    return np.array([-v[1], v[0]])


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else None


def _robust_mean_direction(dirs):
    if not dirs:
        return None
    mean = _unit(np.sum(dirs, axis=0))
    if mean is None:
        return None
    inliers = [d for d in dirs if d @ mean >= 0.5]
    if not inliers:
        return mean
    refined = _unit(np.sum(inliers, axis=0))
    return mean if refined is None else refined


def _principal(points):
    p = np.asarray(points, float)
    m = p.mean(0)
    sxx, syy = np.mean((p[:, 0] - m[0]) ** 2), np.mean((p[:, 1] - m[1]) ** 2)
    sxy = np.mean((p[:, 0] - m[0]) * (p[:, 1] - m[1]))
    trace, det = sxx + syy, sxx * syy - sxy * sxy
    disc = np.sqrt(max(0.0, trace * trace / 4 - det))
    major, minor = trace / 2 + disc, max(0.0, trace / 2 - disc)
    if not major > 0:
        return None
    angle = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    return np.array([np.cos(angle), np.sin(angle)]), np.sqrt(major), np.sqrt(minor)


def _median(values):
    v = [x for x in values if x is not None and np.isfinite(x) and x > 0]
    return float(np.median(v)) if v else None


def _front_row(apices, axis, gap):
    if len(apices) < 2:
        return apices
    by_depth = sorted(apices, key=lambda a: -(a[1] @ axis))
    rows = [[by_depth[0]]]
    for prev, cur in zip(by_depth[:-1], by_depth[1:]):
        if prev[1] @ axis - cur[1] @ axis > gap:
            rows.append([])
        rows[-1].append(cur)
    largest = max(len(r) for r in rows)
    # Two at least when the largest row has two or more: a lone apex in front of a sparse row is a stray (C#).
    needed = max(2.0 if largest >= 2 and MIN_ROW_SHARE > 0 else 1.0, MIN_ROW_SHARE * largest)
    return next(r for r in rows if len(r) >= needed)


def _outermost(apices, axis, band, window):
    across = _perp(axis)
    return [a for a in apices
            if not any(abs(b[1] @ across - a[1] @ across) <= window and b[1] @ axis - a[1] @ axis > band for b in apices)]


def _near_row_line(apices, axis, max_behind):
    if len(apices) < 2:
        return apices
    level = float(np.median([a[1] @ axis for a in apices]))
    return [a for a in apices if level - a[1] @ axis <= max_behind]


def _fitted_normal(points, axis):
    fit = _principal(points)
    if fit is None:
        return None
    direction, major, minor = fit
    if minor > 0 and major < MIN_ELONGATION * minor:
        return None
    normal = _perp(direction)
    if normal @ axis < 0:
        normal = -normal
    deviation = np.degrees(np.arccos(np.clip(normal @ axis, -1, 1)))
    return normal if deviation <= MAX_FIT_DEGREES else None


def _most_distal_pixel(mask, axis):
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    proj = (xs + 0.5) * axis[0] + (ys + 0.5) * axis[1]
    k = int(np.argmax(proj))
    return np.array([xs[k] + 0.5, ys[k] + 0.5])


def apex_outside(mask, u, axis, width, height, margin=APEX_CUT_MARGIN_PX):
    """FrameCut.ApexOutside: the mask has a pixel on the image's edge more than `margin` px beyond U along `axis`."""
    ys, xs = np.nonzero(mask)
    edge = (xs == 0) | (ys == 0) | (xs == width - 1) | (ys == height - 1)
    return bool(edge.any() and np.max(xs[edge] * axis[0] + ys[edge] * axis[1]) > u @ axis + margin)


def tip_on_frame(mask, axis, width, height, margin=APEX_CUT_MARGIN_PX):
    """FrameCut.TipOnFrame: the mask's most distal part along `axis` has a pixel on the image's edge (within `margin`)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return False
    along = xs * axis[0] + ys * axis[1]
    edge = (xs == 0) | (ys == 0) | (xs == width - 1) | (ys == height - 1)
    return bool(edge.any() and np.max(along[edge]) >= np.max(along) - margin)


def find(capillaries, width, height, um_per_px, mask_of):
    """capillaries: dicts with `keypoints` (8 x (x, y, confidence)) in original pixels, hemorrhages already left out
    (blurred loops count, as in the pipeline). mask_of(c): the boolean mask in original pixels.
    Returns (distal indices, row length in mm, density per mm). As ImageMeasurer: loops whose apex lies outside the
    frame along the first row's axis (without a usable U: whose mask's distal end is on the frame) leave the row,
    which is then found again without them; when none is left, the density is None."""
    distal, axis, length_mm, density, shown, direction_unknown = _find(capillaries, width, height, um_per_px, mask_of, set())
    cut = set()
    # As the C# finder (DistalRow.DirectionUnknown): a side the axis only guesses at is no side to find loops cut on.
    for i, c in enumerate([] if direction_unknown else capillaries):
        k = np.asarray(c["keypoints"], float)
        if _usable(k[0]) and apex_outside(mask_of(c), k[0, :2], axis, width, height):
            cut.add(i)
        elif not _usable(k[0]) and tip_on_frame(mask_of(c), axis, width, height):
            cut.add(i)   # no U: the finder's apex is the mask's distal end, here on the frame
    if cut:
        # As the C# finder: where the loops left show no direction, the first row's axis stands (not the image's top).
        distal, axis, length_mm, density, _, _ = _find(capillaries, width, height, um_per_px, mask_of, cut,
                                                    prior_axis=axis if shown else None)
        if not distal:
            density = None   # as the C# finder: loops all cut by the frame are no measurement, not a density of 0
    return distal, length_mm, density


def _find(capillaries, width, height, um_per_px, mask_of, excluded, prior_axis=None):
    """(distal indices, axis, row length in mm, density, whether the loops showed the axis themselves, whether the
    axis's direction is only guessed: a row running up the image, its normal from the image's top)."""
    loops = []
    for i, c in enumerate(capillaries):
        if i in excluded:
            continue
        k = np.asarray(c["keypoints"], float)
        p = [k[q, :2] if _usable(k[q]) else None for q in range(8)]
        u, ll, rr, lb, rb = p[0], p[2], p[5], p[6], p[7]
        axis = length = loop_width = None
        if u is not None and lb is not None and rb is not None:
            along = u - (lb + rb) / 2
            if np.linalg.norm(along) > 0:
                axis, length = _unit(along), float(np.linalg.norm(along))
                if ll is not None and rr is not None:
                    loop_width = abs((rr - ll) @ _perp(axis))
        loops.append(dict(index=i, apex=u, axis=axis, height=length, width=loop_width))
    if not loops:
        return [], np.array([0.0, -1.0]), 0.0, 0.0, False, False
    loop_height = _median([m["height"] for m in loops])
    loop_width = _median([m["width"] for m in loops])
    band = BAND_OF_HEIGHT * loop_height if loop_height else FALLBACK_BAND_UM / um_per_px
    window = WINDOW_OF_WIDTH * loop_width if loop_width else FALLBACK_WINDOW_UM / um_per_px

    axis = _robust_mean_direction([m["axis"] for m in loops if m["axis"] is not None])
    if axis is None:
        dirs = []
        for m in loops:
            if m["apex"] is not None:
                ys, xs = np.nonzero(mask_of(capillaries[m["index"]]))
                if len(xs):
                    d = _unit(m["apex"] - np.array([xs.mean() + 0.5, ys.mean() + 0.5]))
                    if d is not None:
                        dirs.append(d)
        axis = _robust_mean_direction(dirs)
    shown = axis is not None
    if axis is None and prior_axis is not None:
        axis, shown = prior_axis, True
    direction_unknown = False
    if axis is None:
        # As the C# finder: a loop without a usable U enters this line by its mask's centroid.
        up = np.array([0.0, -1.0])
        apices = []
        for m in loops:
            if m["apex"] is not None:
                apices.append(m["apex"])
                continue
            ys, xs = np.nonzero(mask_of(capillaries[m["index"]]))
            if len(xs):
                apices.append(np.array([xs.mean() + 0.5, ys.mean() + 0.5]))
        fit = _principal(apices) if len(apices) >= 2 else None
        if fit is not None:
            normal = _perp(fit[0])
            axis = normal if normal @ up >= 0 else -normal
            # A row that runs up the image (its normal within 30 degrees of horizontal): "towards the top" hardly tells
            # its sides apart (the C# ApexLineImageUp source).
            direction_unknown = abs(axis[1]) < 0.5
        else:
            axis = up

    apices = []
    for m in loops:
        apex = m["apex"] if m["apex"] is not None else _most_distal_pixel(mask_of(capillaries[m["index"]]), axis)
        if apex is not None:
            apices.append((m["index"], apex))
    max_behind = BEHIND_OF_HEIGHT * loop_height if loop_height else FALLBACK_BEHIND_UM / um_per_px
    gap = max(ROW_GAP_OF_HEIGHT * (loop_height or 0), MIN_ROW_GAP_UM / um_per_px)

    def select(a):
        return _near_row_line(_outermost(_front_row(apices, a, gap), a, band, window), a, max_behind)

    # As the C# finder: the first split goes across the rows (a line through all apices, when they lie in rows), so a
    # sparse row leaning against its loops is not cut into one-apex rows.
    all_rows = _fitted_normal([a[1] for a in apices], axis) if len(apices) >= MIN_FOR_FIT else None
    distal = select(all_rows if all_rows is not None else axis)
    fitted = _fitted_normal([a[1] for a in distal], axis) if len(distal) >= MIN_FOR_FIT else None
    if fitted is not None:
        axis = fitted
        distal = select(axis)
    elif all_rows is not None:
        axis = all_rows
    # As the C# finder's axis source: a row line fitted counts as a direction found, for the search after the cuts.
    shown = shown or fitted is not None or all_rows is not None
    if not distal:
        # As the C# finder: loops none of which has an apex to place (no confident U, an empty mask) are no measurement.
        return [], axis, 0.0, (None if len(apices) < len(loops) else 0.0), shown, direction_unknown
    centre = np.mean([a[1] for a in distal], axis=0)
    row_dir = _perp(axis)
    seg = clip_line(centre, row_dir, width, height)
    if seg is None:   # the row line misses the frame: no measurement, as the C# finder (not a density of 0)
        return [a[0] for a in distal], axis, 0.0, None, shown, direction_unknown
    length_mm = (seg[1] - seg[0]) * um_per_px / 1000
    density = len(distal) / length_mm if length_mm > 0 and length_mm >= MIN_ROW_LENGTH_MM else None
    return sorted(a[0] for a in distal), axis, length_mm, density, shown, direction_unknown
