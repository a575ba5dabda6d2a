"""Renders one synthetic nailfold field (about 200x videocapillaroscopy) with exact instance truth.

Returns the RGB image, an instance-id map (0 = background) and one record per instance. Only numpy and
OpenCV; a 1024x768 field renders in a fraction of a second.
"""
import cv2
import numpy as np

from nfcsim_shapes import make_hemorrhage, make_loop

# Per-profile parameters. density: distal loops per mm; shapes: weights over the morphology classes;
# giant/dilated: per-loop probabilities; hemo: mean hemorrhages per field.
PROFILES = {
    "healthy": dict(density=(8.0, 12.0), shapes={"hairpin": .72, "tortuous": .18, "crossing": .10},
                    giant=0.0, dilated=0.02, hemo=0.0, ungradable=0.04),
    "ssc-early": dict(density=(7.5, 10.0), shapes={"hairpin": .7, "tortuous": .2, "crossing": .1},
                      giant=0.06, dilated=0.2, hemo=0.3, ungradable=0.04),
    "ssc-active": dict(density=(4.0, 6.0), shapes={"hairpin": .55, "tortuous": .2, "crossing": .05,
                                                    "ramified": .1, "bushy": .05, "bizarre": .05},
                       giant=0.3, dilated=0.3, hemo=1.8, ungradable=0.06),
    "ssc-late": dict(density=(1.5, 2.8), shapes={"hairpin": .2, "tortuous": .15, "crossing": .05,
                                                  "ramified": .3, "bushy": .2, "bizarre": .1},
                     giant=0.02, dilated=0.12, hemo=0.2, ungradable=0.06),
}
CASTS = {"neutral": (1.0, 1.0, 1.0), "bluish": (0.9, 0.96, 1.12), "yellowish": (1.05, 1.0, 0.8),
         "pinkish": (1.06, 0.9, 1.0)}
BLOOD_ABSORPTION = np.array([0.42, 0.80, 0.74], np.float32)  # RGB: blood absorbs green/blue most


def clip_line(p0, d, w, h):
    """Liang-Barsky: the segment of the infinite line p0 + t d inside [0,w]x[0,h]; (t0, t1) or None."""
    t0, t1 = -1e9, 1e9
    for pc, dc, hi in ((p0[0], d[0], w), (p0[1], d[1], h)):
        if abs(dc) < 1e-12:
            if pc < 0 or pc > hi:
                return None
            continue
        a, b = (0 - pc) / dc, (hi - pc) / dc
        t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
    return (t0, t1) if t1 > t0 else None


def _draw_tube(canvas, pts, widths, value):
    """Fills a tube (centreline + widths) with sub-pixel accuracy: quads between samples, discs at joints."""
    sh = 4
    f = float(1 << sh)
    t = np.gradient(pts, axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True) + 1e-9
    n = np.stack([-t[:, 1], t[:, 0]], axis=1) * (widths[:, None] / 2)
    a, b = pts + n, pts - n
    for i in range(len(pts) - 1):
        quad = np.array([a[i], a[i + 1], b[i + 1], b[i]]) - 0.0
        cv2.fillConvexPoly(canvas, np.round(quad * f).astype(np.int32), value, cv2.LINE_8, sh)
        if i % 2 == 0:
            c = np.round(pts[i] * f).astype(int)
            cv2.circle(canvas, (int(c[0]), int(c[1])), int(widths[i] / 2 * f), value, -1, cv2.LINE_8, sh)


def _low_freq(rng, h, w, cells, amp):
    g = rng.normal(0, amp, size=(cells, cells)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


def _pick_shape(rng, weights):
    names = list(weights)
    p = np.array([weights[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def render_field(rng, profile, width, height, um_per_px, cast="neutral", force_ungradable=None):
    prm = PROFILES[profile]
    s = 1.0 / um_per_px
    h, w = height, width
    theta = rng.uniform(0, 2 * np.pi)
    nail = np.array([np.cos(theta), np.sin(theta)])          # apices point this way
    row = np.array([-nail[1], nail[0]])                        # local +x: right when viewed apex-up
    centre = np.array([w / 2, h / 2])
    extent = (w * abs(nail[0]) + h * abs(nail[1])) / 2        # half the frame's depth along `nail`
    h_row = rng.uniform(0.05, 0.45) * extent                   # distal row offset from the centre
    h_nail = h_row + rng.uniform(50, 160) * s
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    depth = (xx - centre[0]) * nail[0] + (yy - centre[1]) * nail[1]   # signed distance towards the nail
    along = (xx - centre[0]) * row[0] + (yy - centre[1]) * row[1]

    ungradable = bool(rng.random() < prm["ungradable"]) if force_ungradable is None else force_ungradable
    density = rng.uniform(*prm["density"])
    row_len = (w * abs(row[0]) + h * abs(row[1])) / 2 + 200 * s
    id_map = np.zeros((h, w), np.uint16)
    absorb = np.zeros((h, w), np.float32)
    instances = []

    # Rows from the deepest (drawn first, faint) to the distal one (on top).
    loop_len = rng.uniform(200, 300)
    rows = [(0, h_row, 1.0)]
    h2 = h_row - (loop_len + rng.uniform(20, 60)) * s
    if h2 - 60 * s > -extent:
        rows.insert(0, (1, h2, rng.uniform(0.4, 0.6)))
    vessel_sigma = rng.uniform(0.8, 1.4)
    for row_idx, h_apex, contrast_scale in rows:
        layer = np.zeros((h, w), np.float32)
        spacing = 1000.0 / density * s * (1.0 if row_idx == 0 else rng.uniform(0.8, 1.3))
        x = -row_len + rng.uniform(0, spacing)
        while x < row_len:
            loop_info = _make_loop_for(rng, prm, um_per_px, loop_len)
            jitter_h = rng.normal(0, 5 * s) if row_idx == 0 else rng.normal(0, 12 * s)
            tilt = rng.normal(0, 0.12)
            nd = np.array([np.cos(theta + tilt), np.sin(theta + tilt)])
            rd = np.array([-nd[1], nd[0]])
            origin = centre + row * x + nail * (h_apex + jitter_h)
            loop = loop_info["loop"].place(origin, rd, nd)
            x += spacing * rng.uniform(0.8, 1.2) + (loop_info["extra_gap_um"] * s)
            apex = loop.apex
            bb_margin = 10
            if not any(np.all((p > -bb_margin) & (p < [w + bb_margin, h + bb_margin]), axis=1).any()
                       for p, _ in loop.tubes):
                continue
            iid = len(instances) + 1
            contrast = rng.uniform(0.4, 0.75) * contrast_scale
            for pts, wd in loop.tubes:
                _draw_tube(id_map, pts, wd, iid)
                _draw_tube(layer, pts, wd, contrast)
            instances.append(dict(id=iid, category=loop_info["shape"], keypoints=loop.keypoints,
                                  apex=apex, widths_um=loop.widths_um, distal=row_idx == 0,
                                  row=row_idx, inside_branches=loop.keypoints_inside_branches()))
        # Deeper rows sit under more tissue: blurrier. A distance-based profile darkens the vessel centre.
        prof = cv2.distanceTransform((layer > 0).astype(np.uint8), cv2.DIST_L2, 3)
        layer *= np.clip(prof / 2.5, 0.35, 1.0) ** 0.5
        sigma = vessel_sigma if row_idx == 0 else 2.0 * vessel_sigma
        absorb = np.maximum(absorb, cv2.GaussianBlur(layer, (0, 0), sigma))

    # Subpapillary plexus: faint, blurred, unannotated vessels deep behind the rows.
    plex = np.zeros((h // 4, w // 4), np.float32)
    # Behind the deepest row; a small frame at a fine um/px has no room behind it, so the plexus sits at the edge.
    plex_far = -extent - 100
    plex_near = max(plex_far, h2 - 80 * s if len(rows) > 1 else h_row - 350 * s)
    for _ in range(rng.integers(4, 9)):
        p = (centre + row * rng.uniform(-row_len, row_len) + nail * rng.uniform(plex_far, plex_near)) / 4
        ang = rng.uniform(0, 2 * np.pi)
        pts = [p.copy()]
        for _ in range(40):
            ang += rng.normal(0, 0.25)
            p = p + 6 * np.array([np.cos(ang), np.sin(ang)])
            pts.append(p.copy())
        cv2.polylines(plex, [np.round(np.array(pts)).astype(np.int32)], False, rng.uniform(0.12, 0.25),
                      int(rng.integers(2, 5)))
    plex = cv2.resize(cv2.GaussianBlur(plex, (0, 0), 2.0), (w, h), interpolation=cv2.INTER_LINEAR)
    plex *= (depth < h_row - 150 * s)  # never in front of the distal row
    absorb = np.maximum(absorb, plex * 0.8)

    # Hemorrhages: dark brown deposits just distal to the apices (annotated, drawn on top).
    n_hemo = rng.poisson(prm["hemo"])
    hemo_alpha = np.zeros((h, w), np.float32)
    for _ in range(n_hemo):
        c = centre + row * rng.uniform(-0.8, 0.8) * row_len * 0.6 + nail * (h_row + rng.uniform(5, 50) * s)
        if not (0 <= c[0] < w and 0 <= c[1] < h):
            continue
        iid = len(instances) + 1
        m = np.zeros((h, w), np.uint8)
        for bc, ax, ang in make_hemorrhage(rng, c, rng.uniform(30, 110) * s):
            cv2.ellipse(m, (int(bc[0]), int(bc[1])), (max(int(ax[0]), 2), max(int(ax[1]), 2)), ang, 0, 360, 1, -1)
        id_map[m > 0] = iid
        hemo_alpha = np.maximum(hemo_alpha, m.astype(np.float32) * rng.uniform(0.55, 0.8))
        instances.append(dict(id=iid, category="hemorrhage", keypoints=None, apex=c, widths_um=None,
                              distal=False, row=-1))

    # Skin background: pink-red, low contrast, uneven, with an illumination gradient.
    base = np.array([rng.uniform(205, 235), rng.uniform(120, 160), rng.uniform(115, 150)], np.float32)
    tex = 1 + _low_freq(rng, h, w, 10, 0.05) + _low_freq(rng, h, w, 60, 0.025) + _low_freq(rng, h, w, 200, 0.02)
    g_ang = rng.uniform(0, 2 * np.pi)
    grad = 1 + rng.uniform(0.05, 0.2) * ((xx - w / 2) * np.cos(g_ang) + (yy - h / 2) * np.sin(g_ang)) / max(w, h)
    img = base[None, None, :] * (tex * grad)[..., None]
    img = img * (1 - absorb[..., None] * BLOOD_ABSORPTION[None, None, :])
    brown = np.array([rng.uniform(70, 110), rng.uniform(35, 55), rng.uniform(25, 45)], np.float32)
    ha = cv2.GaussianBlur(hemo_alpha, (0, 0), 1.5)[..., None]
    img = img * (1 - ha) + brown * ha

    # Nail and cuticle: whitish band with a wavy edge, specular glare and air bubbles.
    edge = h_nail + 12 * s * np.sin(along / (rng.uniform(60, 140) * s) + rng.uniform(0, 6))
    nail_w = np.clip((depth - edge) / (rng.uniform(15, 40) * s), 0, 1)[..., None] * rng.uniform(0.7, 0.9)
    nail_col = np.array([rng.uniform(225, 245), rng.uniform(200, 225), rng.uniform(195, 220)], np.float32)
    img = img * (1 - nail_w) + nail_col * nail_w
    glare = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(1, 5)):
        c = centre + row * rng.uniform(-1, 1) * row_len * 0.7 + nail * (h_nail + rng.uniform(-10, 80) * s)
        cv2.ellipse(glare, (int(c[0]), int(c[1])), (int(rng.uniform(10, 60)), int(rng.uniform(3, 15))),
                    np.degrees(np.arctan2(row[1], row[0])) + rng.normal(0, 15), 0, 360, 1.0, -1)
    glare = cv2.GaussianBlur(glare, (0, 0), 3)[..., None]
    img = img * (1 - glare) + 255 * glare
    for _ in range(rng.poisson(1.2)):
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        rad = int(rng.uniform(8, 50))
        ring = np.zeros((h, w), np.float32)
        cv2.circle(ring, c, rad, 1.0, max(1, rad // 8))
        inside = np.zeros((h, w), np.float32)
        cv2.circle(inside, c, rad, 1.0, -1)
        img = img * (1 - 0.08 * inside[..., None]) + 40 * cv2.GaussianBlur(ring, (0, 0), 1)[..., None]

    # Out-of-focus region, and whole-field blur for ungradable fields.
    blur_w = np.zeros((h, w), np.float32)
    if ungradable:
        blur_w[:] = 1.0
    elif rng.random() < 0.3:
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        cv2.ellipse(blur_w, c, (int(rng.uniform(80, 300)), int(rng.uniform(60, 200))), rng.uniform(0, 180),
                    0, 360, 1.0, -1)
        blur_w = cv2.GaussianBlur(blur_w, (0, 0), 25)
    if blur_w.max() > 0:
        strong = cv2.GaussianBlur(img, (0, 0), rng.uniform(3.5, 6.0))
        img = img * (1 - blur_w[..., None]) + strong * blur_w[..., None]
    for inst in instances:
        ax, ay = int(np.clip(inst["apex"][0], 0, w - 1)), int(np.clip(inst["apex"][1], 0, h - 1))
        if inst["category"] != "hemorrhage" and blur_w[ay, ax] > 0.6:
            inst["category"] = "blur"

    # Optics, device colour cast, sensor noise.
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.0))
    img = img * np.array(CASTS[cast], np.float32) * rng.uniform(0.97, 1.03, size=3).astype(np.float32)
    img = img + rng.normal(0, rng.uniform(1.5, 5.0), size=img.shape).astype(np.float32)
    image = np.clip(img, 0, 255).astype(np.uint8)

    # Drop instances that ended up with no visible pixels; count distal apices inside the frame.
    present = np.bincount(id_map.ravel(), minlength=len(instances) + 1)
    instances = [i for i in instances if present[i["id"]] > 0]
    seg = clip_line(centre + nail * h_row, row, w, h)
    row_len_mm = (seg[1] - seg[0]) * um_per_px / 1000 if seg else 0.0
    inside = [i for i in instances if i["distal"] and 0 <= i["apex"][0] < w and 0 <= i["apex"][1] < h]
    row_line = [list(centre + nail * h_row + row * seg[0]), list(centre + nail * h_row + row * seg[1])] if seg else None
    return dict(image=image, id_map=id_map, instances=instances, ungradable=ungradable,
                distal_count=len(inside), row_length_mm=row_len_mm,
                # The simulator's own rule: a row line of 0.2 mm or less gives no truth density (None), not 0 (the
                # pipeline's own floor is DistalRowOptions.MinRowLengthMm, 0.5 mm by default).
                density_per_mm=len(inside) / row_len_mm if row_len_mm > 0.2 else None,
                row_line=row_line, nail_direction=list(nail))


# The least inner radius of a loop's apex (µm, and px at the field's scale): a tube turning tighter than its own half
# width has no inner apex edge, and D, half the apical width below the apex, lay inside the vessel (nfc-sim 0.2.x: 9.5 %
# of normal, 18.5 % of dilated and 30 % of giant loops had less than 1.5 µm of lumen there, 2-18 % none).
APEX_LUMEN_MIN_UM, APEX_LUMEN_MIN_PX = 3.0, 1.5


def _make_loop_for(rng, prm, um_per_px, loop_len):
    """Draws size and shape for one loop according to the profile."""
    shape = _pick_shape(rng, prm["shapes"])
    u = rng.random()
    if u < prm["giant"]:
        apical = rng.uniform(52, 80)
        limbs = apical * rng.uniform(0.7, 0.9, size=2)          # giants are evenly enlarged
        shape = "hairpin" if shape not in ("hairpin", "tortuous") else shape
    elif u < prm["giant"] + prm["dilated"]:
        apical = rng.uniform(21, 45)
        limbs = apical * rng.uniform(0.55, 0.8, size=2)
    else:
        apical = rng.uniform(12, 19)
        limbs = rng.uniform(8, 15, size=2)
    gap = rng.uniform(6, 22) * (1.5 if apical > 20 else 1.0)
    # The arc's centreline radius is (gap + mean limb) / 2, its inner edge half the apical width inside that.
    gap = max(gap, apical - limbs.mean() + 2 * max(APEX_LUMEN_MIN_UM, APEX_LUMEN_MIN_PX * um_per_px))
    length = loop_len * rng.uniform(0.85, 1.15) * (0.8 if shape == "bushy" else 1.0)
    loop = make_loop(rng, shape, apical, limbs[0], limbs[1], length, gap, um_per_px)
    width_um = limbs.sum() + gap + (80 if shape in ("ramified", "bushy") else 0)
    return dict(loop=loop, shape=shape, extra_gap_um=max(0.0, width_um - 40) * 0.5)
