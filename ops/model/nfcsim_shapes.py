"""Capillary loop geometry for the NFC simulator.

A loop is built in a local frame, in pixels: x runs along the row, y points towards the nail, and the outer
edge of the apex centreline top sits at (0, 0) before placement. Each loop is a list of tubes (centreline
points plus widths); the first tube is the hairpin itself, further tubes are branches or buds. Keypoints
follow ANFC: U/D are the outer/inner edge of the apex, LL/LR and RL/RR the two edges of the left and the
right limb, LB/RB the limb bottoms. "Left" is the left side when the loop is viewed apex-up.
"""
import numpy as np

CLASSES = ["hairpin", "tortuous", "crossing", "ramified", "bushy", "bizarre", "hemorrhage", "blur"]
KEYPOINTS = ["up", "down", "left-left", "left-right", "right-left", "right-right", "left-bottom", "right-bottom"]
NORMAL_SHAPES = ("hairpin", "tortuous", "crossing")
ABNORMAL_SHAPES = ("ramified", "bushy", "bizarre")


class Loop:
    """One capillary in local pixel coordinates; `place` maps it into the image."""

    def __init__(self, tubes, keypoints, apex, widths_um):
        self.tubes = tubes            # list of (pts (N,2), widths (N,))
        self.keypoints = keypoints    # (8,2)
        self.apex = apex              # centreline top of the apex, (2,)
        self.widths_um = widths_um    # dict: apical, left, right

    def place(self, origin, row_dir, nail_dir):
        """Local (x along row, y towards nail) -> image coordinates."""
        m = np.stack([row_dir, nail_dir], axis=0)  # rows: basis vectors

        def tf(p):
            return origin + p @ m

        tubes = [(tf(p), w) for p, w in self.tubes]
        return Loop(tubes, tf(self.keypoints), tf(self.apex[None])[0], self.widths_um)

    def keypoints_inside_branches(self):
        """Per keypoint, whether it lies inside one of the loop's own side vessels (a bush's bud, a ramified branch,
        drawn from the centreline outwards): no edge the image shows is there, as under another instance."""
        inside = np.zeros(len(self.keypoints), bool)
        for pts, widths in self.tubes[1:]:
            d = np.linalg.norm(self.keypoints[:, None, :] - pts[None, :, :], axis=2)   # (8, N)
            inside |= (d < widths[None, :] / 2).any(axis=1)
        return inside


def _normals(pts):
    """Unit normals (tangent rotated +90 degrees) of a polyline."""
    t = np.gradient(pts, axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True) + 1e-9
    return np.stack([-t[:, 1], t[:, 0]], axis=1)


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def make_loop(rng, shape, apical_um, left_um, right_um, length_um, gap_um, um_per_px):
    """Builds a loop of the given shape; sizes in micrometres, output in pixels."""
    s = 1.0 / um_per_px
    wa, wl, wr = apical_um * s, left_um * s, right_um * s
    length, gap = length_um * s, gap_um * s
    xl, xr = -(gap + wl) / 2, (gap + wr) / 2
    xc, r = (xl + xr) / 2, (xr - xl) / 2
    step = 0.7  # centreline sample spacing in px: dense enough that quads join without gaps

    n_limb = max(int((length - r) / step), 8)
    y_limb = np.linspace(-length, -r, n_limb)          # bottom -> arc start
    n_arc = max(int(np.pi * r / step), 12)
    theta = np.linspace(np.pi, 0, n_arc)                # left -> over the top -> right

    x_left = np.full_like(y_limb, xl)
    x_right = np.full_like(y_limb, xr)
    depth = np.clip((-y_limb - r) / max(length - r, 1), 0, 1)  # 0 at the arc, 1 at the bottom
    if shape == "tortuous":
        lam = rng.uniform(35, 70) * s
        amp = rng.uniform(0.4, 0.9) * max(wl, wr)
        phase = rng.uniform(0, 2 * np.pi, size=2)
        # Two incommensurate waves so the wiggle is irregular, as in real tortuous loops.
        wig = amp * (np.sin(2 * np.pi * y_limb / lam + phase[0]) + 0.5 * np.sin(2 * np.pi * y_limb / (lam * 1.7) + phase[1]))
        wig *= _smoothstep(depth * 4) * rng.uniform(0.5, 1.0)
        x_left = x_left + wig
        x_right = x_right + wig * rng.uniform(0.6, 1.0)
    elif shape == "crossing":
        yc = -(r + rng.uniform(0.45, 0.65) * (length - r))
        k = np.tanh((y_limb - yc) / (rng.uniform(8, 16) * s))
        x_left = xc + (xl - xc) * k
        x_right = xc + (xr - xc) * k
    elif shape == "bizarre":
        knots = rng.normal(0, 1.4 * max(wl, wr, 6 * s), size=(2, 5))
        yk = np.linspace(-length, -r, 5)
        x_left = x_left + np.interp(y_limb, yk, knots[0] * (yk < -r - 1))
        x_right = x_right + np.interp(y_limb, yk, knots[1] * (yk < -r - 1))

    # Order: left bottom -> up the left limb -> over the apex -> down the right limb -> right bottom.
    left_up = np.stack([x_left, y_limb], axis=1)
    arc = np.stack([xc + r * np.cos(theta), -r + r * np.sin(theta)], axis=1)
    right_down = np.stack([x_right, y_limb], axis=1)[::-1]
    pts = np.concatenate([left_up, arc[1:-1], right_down], axis=0)

    # Widths: limbs keep their own width; it blends to the apical width over the arc and just below it.
    blend_len = r + 20 * s
    ys = pts[:, 1]
    near_apex = _smoothstep(1 - (-ys) / max(blend_len, 1))
    is_left = np.arange(len(pts)) < (len(pts) // 2)
    w_limb = np.where(is_left, wl, wr)
    widths = w_limb + (wa - w_limb) * near_apex
    if shape == "bizarre":
        widths = widths * rng.uniform(0.8, 1.25, size=1) * (1 + 0.15 * np.sin(np.arange(len(pts)) / 9.0))

    # The apex top: the arc centreline top; U and D lie half the apical width either side, along y.
    apex = np.array([xc, 0.0])
    kp_y = -(r + max(25 * s, 0.3 * (length - r)))
    i_l = int(np.argmin(np.abs(pts[: len(pts) // 2, 1] - kp_y)))
    i_r = len(pts) // 2 + int(np.argmin(np.abs(pts[len(pts) // 2:, 1] - kp_y)))
    if shape == "bizarre":
        # Its tube is drawn at scaled, varying widths: the truth is the drawn width where each diameter is measured.
        wa = widths[int(np.argmax(pts[:, 1]))]
        apical_um, left_um, right_um = wa * um_per_px, widths[i_l] * um_per_px, widths[i_r] * um_per_px
    nrm = _normals(pts)
    # Normals point left of the travel direction: on the left limb (travelling up) that is -x, i.e. outward.
    ll = pts[i_l] + nrm[i_l] * widths[i_l] / 2
    lr = pts[i_l] - nrm[i_l] * widths[i_l] / 2
    rl = pts[i_r] - nrm[i_r] * widths[i_r] / 2   # travelling down on the right limb, the normal points +x
    rr = pts[i_r] + nrm[i_r] * widths[i_r] / 2
    if ll[0] > lr[0]:
        ll, lr = lr, ll
    if rl[0] > rr[0]:
        rl, rr = rr, rl
    kps = np.array([apex + [0, wa / 2], apex - [0, wa / 2], ll, lr, rl, rr, pts[0], pts[-1]])
    tubes = [(pts, widths)]

    if shape == "ramified":
        for _ in range(rng.integers(1, 4)):
            i0 = int(rng.integers(len(pts) // 8, len(pts) * 7 // 8))
            # The normals of this centreline always point away from the loop's inside.
            tubes.append(_branch(rng, pts[i0], nrm[i0], s,
                                 rng.uniform(30, 80) * s, rng.uniform(6, 10) * s))
    elif shape == "bushy":
        for _ in range(rng.integers(3, 7)):
            a = rng.uniform(0.15, 0.85) * np.pi
            base = np.array([xc + r * np.cos(a), -r + r * np.sin(a)])
            tubes.append(_branch(rng, base, np.array([np.cos(a), np.sin(a)]), s,
                                 rng.uniform(12, 35) * s, rng.uniform(6, 10) * s, bud=True))
    return Loop(tubes, kps, apex, {"apical": apical_um, "left": left_um, "right": right_um})


def _branch(rng, start, direction, s, length, width, bud=False):
    """A curved side vessel (ramified) or a small bud loop (bushy)."""
    n = max(int(length / 0.7), 6)
    ang0 = np.arctan2(direction[1], direction[0]) + rng.normal(0, 0.3)
    curv = rng.normal(0, 1.5 if bud else 0.8) / max(length, 1)
    t = np.linspace(0, length, n)
    ang = ang0 + curv * t * (3.0 if bud else 1.0)
    step = np.stack([np.cos(ang), np.sin(ang)], axis=1) * (length / n)
    pts = start + np.cumsum(step, axis=0)
    widths = np.full(n, width) * np.linspace(1.0, 0.8, n)
    return pts, widths


def make_hemorrhage(rng, center, size_px):
    """An irregular deposit: a union of ellipses; returns a list of (center, axes, angle)."""
    blobs = []
    for _ in range(rng.integers(2, 6)):
        c = center + rng.normal(0, size_px * 0.25, size=2)
        ax = rng.uniform(0.2, 0.5, size=2) * size_px
        blobs.append((c, ax, rng.uniform(0, 180)))
    return blobs
