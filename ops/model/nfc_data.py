"""Training data for the reference model: a cached set of simulated fields, augmented crops, dense targets.

The cache holds fields rendered by the simulator (deterministic per seed) after a JPEG round trip. A crop is
drawn with a random rotation (any angle), scale 0.7-1.4, colour, blur, noise and JPEG quality; targets are
computed after the warp so every geometric quantity is in crop pixels. Targets follow docs/model-contract.md.
"""
import os
import sys
import zipfile

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nfcsim_render import CASTS, render_field  # noqa: E402
from nfcsim_shapes import CLASSES  # noqa: E402

PROFILES = ["healthy", "ssc-early", "ssc-active", "ssc-late"]
NO_CLASS = -1


def render_training_field(seed, index):
    """One cached field: image after a JPEG round trip, id map, per-instance class/centre/keypoints."""
    rng = np.random.default_rng([seed, index, 0x545241])
    um = float(rng.uniform(1.5, 3.0))
    w, h = (1024, 768) if rng.random() < 0.6 else (1280, 1024)
    res = render_field(rng, PROFILES[index % 4], w, h, um, cast=list(CASTS)[int(rng.integers(0, 4))])
    ok, buf = cv2.imencode(".jpg", res["image"][..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))])
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    n = len(res["instances"])
    cls = np.zeros(n + 1, np.int16)
    kps = np.full((n + 1, 8, 2), np.nan, np.float32)
    cen = np.full((n + 1, 2), np.nan, np.float32)
    ids = res["id_map"]
    # Instances are renumbered densely so the tables index by id.
    remap = np.zeros(max(i["id"] for i in res["instances"]) + 1 if n else 1, np.uint16)
    for k, inst in enumerate(res["instances"], start=1):
        remap[inst["id"]] = k
        cls[k] = CLASSES.index(inst["category"])
        if inst["keypoints"] is not None:
            kps[k] = inst["keypoints"]
    ids = remap[ids]
    ys, xs = np.nonzero(ids)
    cnt = np.bincount(ids[ys, xs], minlength=n + 1)
    sx = np.bincount(ids[ys, xs], weights=xs, minlength=n + 1)
    sy = np.bincount(ids[ys, xs], weights=ys, minlength=n + 1)
    cen[1:] = np.stack([sx[1:] / np.maximum(cnt[1:], 1), sy[1:] / np.maximum(cnt[1:], 1)], axis=1)
    return dict(image=np.ascontiguousarray(image), ids=ids, cls=cls, kps=kps, cen=cen, um=um)


def build_cache(path, seed, count, log=print):
    """Renders `count` fields once and stores them in one .npz; reuses it when it already matches. One that cannot be
    read (cut short by a power cut) is rendered again rather than failing every run until someone deletes it."""
    if os.path.exists(path):
        try:
            with np.load(path, allow_pickle=True) as z:
                if int(z["seed"]) == seed and int(z["count"]) == count:
                    return list(z["fields"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            log(f"cache: {path} cannot be read ({type(e).__name__}: {e}); rendering it again")
    fields = []
    for i in range(count):
        fields.append(render_training_field(seed, i))
        if (i + 1) % 50 == 0:
            log(f"cache: {i + 1}/{count} fields")
    tmp = path + ".tmp.npz"
    with open(tmp, "wb") as f:   # on disk before the rename, as train.save() writes checkpoints
        np.savez(f, seed=seed, count=count, fields=np.array(fields, dtype=object))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return fields


def instance_sampling_weights(fields):
    """Per-class weight for choosing the instance a crop is centred on: inverse square root of the class's
    instance frequency, so rare shapes are seen often enough to be learned without drowning the hairpins."""
    counts = np.ones(len(CLASSES))
    for f in fields:
        np.add.at(counts, f["cls"][1:], 1)
    return counts ** -0.5


def _affine(rng, field, size, class_weights=None):
    """dst->src matrix for a crop with random centre, rotation and scale (scale > 1 magnifies)."""
    h, w = field["ids"].shape
    ids = field["ids"]
    if rng.random() < 0.8 and ids.any():  # mostly centre crops on vessels so positives are frequent
        ys, xs = np.nonzero(ids[::4, ::4])
        if class_weights is None:
            k = int(rng.integers(0, len(xs)))
        else:
            # Each instance equally likely whatever its size, then weighted by its class.
            owner = ids[::4, ::4][ys, xs]
            per_inst = np.bincount(owner, minlength=len(field["cls"]))
            p = class_weights[field["cls"][owner]] / per_inst[owner]
            k = int(rng.choice(len(xs), p=p / p.sum()))
        c = np.array([xs[k] * 4, ys[k] * 4], float) + rng.normal(0, size / 6, 2)
    else:
        c = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    ang = rng.uniform(0, 2 * np.pi)
    scale = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    cos, sin = np.cos(ang) / scale, np.sin(ang) / scale
    # src = R/scale @ (dst - size/2) + c
    m = np.array([[cos, -sin, 0], [sin, cos, 0]])
    m[:, 2] = c - m[:, :2] @ np.array([size / 2 - 0.5, size / 2 - 0.5])
    return m, scale


def _photometric(rng, img):
    img = img.astype(np.float32)
    img = img * rng.uniform(0.75, 1.25, 3) + rng.uniform(-20, 20, 3)       # colour cast and brightness
    mean = img.mean()
    img = (img - mean) * rng.uniform(0.7, 1.3) + mean                        # contrast
    if rng.random() < 0.4:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.8))
    if rng.random() < 0.6:
        img = img + rng.normal(0, rng.uniform(1, 7), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        # OpenCV encodes BGR: the chroma subsampling falls on the right channels only when the RGB crop is reversed.
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 96))])
        img = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return img


def _gauss_splat(maps, k, x, y, sigma, stride):
    """Max-splats a Gaussian (sigma in cells) at input-pixel (x, y) into maps[k]."""
    hh, ww = maps.shape[1:]
    cx, cy = (x + 0.5) / stride - 0.5, (y + 0.5) / stride - 0.5
    r = int(3 * sigma) + 1
    x0, x1 = max(int(cx) - r, 0), min(int(cx) + r + 2, ww)
    y0, y1 = max(int(cy) - r, 0), min(int(cy) + r + 2, hh)
    if x0 >= x1 or y0 >= y1:
        return
    gx = np.exp(-((np.arange(x0, x1) - cx) ** 2) / (2 * sigma ** 2))
    gy = np.exp(-((np.arange(y0, y1) - cy) ** 2) / (2 * sigma ** 2))
    np.maximum(maps[k, y0:y1, x0:x1], gy[:, None] * gx[None, :], out=maps[k, y0:y1, x0:x1])


def make_sample(field, rng, size, stride, class_weights=None, offset_window=1):
    """One augmented crop and its dense targets (all at output stride). Keypoint offsets are trained in the
    (2 * offset_window + 1)^2 cells around each keypoint's cell."""
    m, scale = _affine(rng, field, size, class_weights)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    img = cv2.warpAffine(field["image"], m, (size, size), flags=flags, borderMode=cv2.BORDER_REFLECT)
    img = _photometric(rng, img)
    # Beyond the field the masks and classes are background, so the picture there must hold no vessels either:
    # mid-grey, as the pipeline pads its input (normalised 0). Mirrored field (the reflected border) put vessels under
    # background labels in about 15 % of the crops' pixels. (A keypoint or centre of an instance cut by the crop's field
    # edge is still splatted where it falls, grey there: the model learns to place what a cut loop implies.)
    inside = cv2.warpAffine(np.ones(field["ids"].shape, np.uint8), m, (size, size),
                            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
    outside = inside == 0
    img[outside] = 128
    ids = cv2.warpAffine(field["ids"], m, (size, size), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                         borderValue=0)
    g = size // stride
    # Cell (i, j) centre is input pixel ((j + .5) * stride - .5, ...); sample the id map there.
    cell = np.array([[stride, 0, stride / 2 - 0.5], [0, stride, stride / 2 - 0.5], [0, 0, 1]])
    mc = m @ cell
    ids_c = cv2.warpAffine(field["ids"], mc, (g, g), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
    fg = (ids > 0).astype(np.uint8)
    cap = cv2.resize(fg.astype(np.float32), (g, g), interpolation=cv2.INTER_AREA)
    dist = cv2.distanceTransform(fg, cv2.DIST_L2, 5)
    radius = np.maximum(cv2.resize(dist, (g, g), interpolation=cv2.INTER_AREA) - 0.5, 0)

    # Forward map src -> crop for points.
    a = np.vstack([m, [0, 0, 1]])
    inv = np.linalg.inv(a)[:2]
    jj, ii = np.meshgrid(np.arange(g), np.arange(g))
    px, py = (jj + 0.5) * stride - 0.5, (ii + 0.5) * stride - 0.5
    cen = field["cen"] @ inv[:, :2].T + inv[:, 2]
    offset = np.zeros((2, g, g), np.float32)
    inst = ids_c > 0
    offset[0][inst] = cen[ids_c[inst], 0] - px[inst]
    offset[1][inst] = cen[ids_c[inst], 1] - py[inst]
    cls = np.where(inst, field["cls"][ids_c], NO_CLASS).astype(np.int64)

    center = np.zeros((1, g, g), np.float32)
    kph = np.zeros((8, g, g), np.float32)
    kpo = np.zeros((16, g, g), np.float32)
    kpw = np.zeros((8, g, g), np.float32)
    present = np.unique(ids_c[inst])
    cell_px = np.arange(g, dtype=np.float64)
    for k in present:
        _gauss_splat(center, 0, cen[k, 0], cen[k, 1], 2.0, stride)
        if np.isnan(field["kps"][k, 0, 0]):
            continue
        kp = field["kps"][k] @ inv[:, :2].T + inv[:, 2]
        for q in range(8):
            x, y = kp[q]
            if not (0 <= x < size and 0 <= y < size):
                continue
            _gauss_splat(kph, q, x, y, 1.0, stride)
            ci, cj = int(round((y + 0.5) / stride - 0.5)), int(round((x + 0.5) / stride - 0.5))
            # Offsets are trained in a window around the keypoint's cell: where the decoder reads them.
            rows = slice(max(ci - offset_window, 0), min(ci + offset_window + 1, g))
            cols = slice(max(cj - offset_window, 0), min(cj + offset_window + 1, g))
            kpo[2 * q, rows, cols] = x - ((cell_px[cols] + 0.5) * stride - 0.5)
            kpo[2 * q + 1, rows, cols] = (y - ((cell_px[rows] + 0.5) * stride - 0.5))[:, None]
            kpw[q, rows, cols] = 1.0
    return dict(image=img, cap=cap[None], center=center, offset=offset, kph=kph, kpo=kpo, kpw=kpw,
                radius=radius[None].astype(np.float32), cls=cls, scale=scale,
                inst=ids_c.astype(np.int64), inst_table=field["cls"].astype(np.int64))


def make_batch(fields, rng, batch, size, stride, class_weights=None, offset_window=1):
    samples = [make_sample(fields[int(rng.integers(0, len(fields)))], rng, size, stride, class_weights, offset_window)
               for _ in range(batch)]
    out = {k: np.stack([s[k] for s in samples]) for k in samples[0] if k not in ("scale", "inst", "inst_table")}
    out["image"] = out["image"].transpose(0, 3, 1, 2)
    # Instance ids made unique across the batch (0 stays background) and one class per id, for the loss on the
    # instance-averaged class logits: the decoder classifies an instance by exactly that average.
    ids, table, base = [], [np.array([NO_CLASS], np.int64)], 0
    for smp in samples:
        ids.append(np.where(smp["inst"] > 0, smp["inst"] + base, 0))
        table.append(smp["inst_table"][1:])
        base += len(smp["inst_table"]) - 1
    out["inst"] = np.stack(ids)
    out["inst_cls"] = np.concatenate(table)
    return out
