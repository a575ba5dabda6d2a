"""NfcNet: a small fully convolutional multi-task U-Net with the dense/v1 heads, and its loss.

Encoder at strides 2..32, decoder back to stride 2 (limbs ~4-8 px wide stay resolvable), three light heads:
segmentation + class, instance centre + offset + radius, keypoints + keypoint offsets. The loss combines the
task losses with learned log-variances (Kendall, Gal and Cipolla 2018).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

STRIDE = 2
OUTPUT_NAMES = ["capillary", "center", "offset", "keypoints", "keypoint_offset", "radius", "class_logits"]
WIDTHS = (24, 32, 48, 64, 96)   # channels at strides 2, 4, 8, 16, 32
OFFSET_SCALE = 32.0      # offsets are regressed in units of 32 input px, emitted in px
KP_OFFSET_SCALE = 2.0    # keypoint offsets in units of one cell


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Block(nn.Module):
    """Two 3x3 convs with a residual connection."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.a = conv_bn(cin, cout, stride)
        self.b = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = None if (cin == cout and stride == 1) else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b(self.a(x))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


class Head(nn.Module):
    def __init__(self, cin, cout, mid=32):
        super().__init__()
        self.body = conv_bn(cin, mid)
        self.out = nn.Conv2d(mid, cout, 1)

    def forward(self, x):
        return self.out(self.body(x))


class NfcNet(nn.Module):
    def __init__(self, num_classes=8, widths=WIDTHS, full_res=0):
        super().__init__()
        w = widths
        if full_res:   # two convolutions at the input's own resolution before the first downsampling
            self.stem = nn.Sequential(conv_bn(3, full_res), conv_bn(full_res, full_res), conv_bn(full_res, w[0], 2),
                                      Block(w[0], w[0]))                               # /2
        else:
            self.stem = nn.Sequential(conv_bn(3, w[0], 2), Block(w[0], w[0]))        # /2
        self.enc = nn.ModuleList([Block(w[i], w[i + 1], 2) for i in range(4)])        # /4 /8 /16 /32
        self.ctx = Block(w[4], w[4])
        self.dec = nn.ModuleList([Block(w[i + 1] + w[i], w[i]) for i in reversed(range(4))])
        self.seg = Head(w[0], 1 + num_classes)
        self.inst = Head(w[0], 1 + 2 + 1)
        self.kp = Head(w[0], 8 + 16)
        self.num_classes = num_classes
        with torch.no_grad():  # start heatmaps near zero so the focal losses begin stable
            self.inst.out.bias[0] = -4.0
            self.kp.out.bias[:8] = -4.0

    def forward(self, x):
        """Raw outputs (logits and scaled regressions), used by the loss."""
        feats = [self.stem(x)]
        for e in self.enc:
            feats.append(e(feats[-1]))
        y = self.ctx(feats[-1])
        for d, skip in zip(self.dec, reversed(feats[:-1])):
            # Inputs are multiples of 32, so each level is exactly twice the one below. A constant scale (not the
            # skip's size) exports as a Resize ORT can run in its blocked layout, without Shape/Gather to compute sizes.
            y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
            y = d(torch.cat([y, skip], 1))
        seg, inst, kp = self.seg(y), self.inst(y), self.kp(y)
        return dict(cap=seg[:, :1], cls=seg[:, 1:], center=inst[:, :1], offset=inst[:, 1:3], radius=inst[:, 3:4],
                    kph=kp[:, :8], kpo=kp[:, 8:])


def trained_widths(state):
    """The widths a checkpoint or final.pt (`state`) was trained at (runs before --widths: the default)."""
    return tuple(state.get("config", {}).get("widths") or WIDTHS)


def net_for(state, num_classes, widths=None):
    """An untrained NfcNet shaped like the one a checkpoint or final.pt (`state`) was trained as (or at `widths`)."""
    full_res = state.get("config", {}).get("full_res_channels", 0)
    return NfcNet(num_classes=num_classes, widths=widths or trained_widths(state), full_res=full_res)


def pad_state_dict(state, padded_net, widths, padded_widths):
    """The weights of a net at `widths`, zero-padded to fit `padded_net` (at `padded_widths`): each grown channel
    dimension gets its added channels at the end, and a decoder block's concatenated input at the end of each of
    its two parts (the upsampled level, then the skip). The added channels are always 0: the outputs are unchanged."""
    out = {}
    for k, target in padded_net.state_dict().items():
        v = state[k]
        if v.shape == target.shape:
            out[k] = v.clone()
            continue
        new = torch.full(target.shape, 1.0 if k.endswith("running_var") else 0.0, dtype=v.dtype)
        index = [torch.arange(n) for n in v.shape]
        concat = _decoder_concat(k, widths, padded_widths)
        if concat and v.dim() == 4 and v.shape[1] == sum(concat[0]):
            (up, skip), (padded_up, _) = concat
            index[1] = torch.cat([torch.arange(up), padded_up + torch.arange(skip)])
        new[torch.meshgrid(*index, indexing="ij")] = v
        out[k] = new
    return out


def _decoder_concat(key, widths, padded_widths):
    """For a decoder block's weights: its input's two parts, (upsampled, skip) widths before and after padding."""
    parts = key.split(".")
    if parts[0] != "dec":
        return None
    level = len(widths) - 2 - int(parts[1])   # dec[0] works at stride 16, the last block at stride 2 (level 0)
    return ((widths[level + 1], widths[level]), (padded_widths[level + 1], padded_widths[level]))


class DenseV1(nn.Module):
    """The exported graph: activations applied, offsets in input pixels, outputs in contract order."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        o = self.net(x)
        return (torch.sigmoid(o["cap"]), torch.sigmoid(o["center"]), o["offset"] * OFFSET_SCALE,
                torch.sigmoid(o["kph"]), o["kpo"] * KP_OFFSET_SCALE, F.softplus(o["radius"]), o["cls"])


def gaussian_bce_loss(logits, target):
    """Binary cross-entropy against the Gaussian heatmap itself, summed and divided by the number of peaks (cells of
    at least 0.5): every keypoint pulls its own neighbourhood up, wherever its sub-cell centre falls."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="sum")
    return bce / target.ge(0.5).float().sum().clamp(min=1)


def focal_heatmap_loss(logits, target, eps=1e-4):
    """CenterNet's penalty-reduced focal loss on Gaussian heatmaps, normalised by the number of peaks."""
    p = torch.sigmoid(logits).clamp(eps, 1 - eps)
    pos = target.ge(0.99).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p ** 2 * (1 - target) ** 4 * neg
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


class MultiTaskLoss(nn.Module):
    """Task losses combined as sum(exp(-s_i) * L_i + s_i), s_i learned log-variances."""

    TASKS = ["capillary", "center", "offset", "keypoints", "keypoint_offset", "radius", "class", "instance_class"]
    MIN_INSTANCE_CELLS = 20   # crops cut loops; a sliver says little about the loop's shape
    HEATMAP_LOSSES = {"focal": focal_heatmap_loss, "bce": gaussian_bce_loss}

    def __init__(self, class_weights=None, min_weights=None, kp_heatmap_loss="focal"):
        """min_weights: task -> lowest weight exp(-s) it may get (its log-variance capped at -ln w); none by default.
        kp_heatmap_loss: "focal" (CenterNet's) or "bce" (gaussian_bce_loss) for the keypoint heatmaps."""
        super().__init__()
        self.kp_heatmap_loss = self.HEATMAP_LOSSES[kp_heatmap_loss]
        self.log_vars = nn.Parameter(torch.zeros(len(self.TASKS)))
        self.max_log_vars = {self.TASKS.index(t): -math.log(w) for t, w in (min_weights or {}).items() if w > 0}
        self.register_buffer("class_weights", class_weights if class_weights is not None else torch.ones(8))

    def forward(self, out, t):
        fg = (t["cls"] >= 0).float().unsqueeze(1)
        n_fg = fg.sum().clamp(min=1)
        cap_bce = F.binary_cross_entropy_with_logits(out["cap"], t["cap"])
        p = torch.sigmoid(out["cap"])
        dice = 1 - (2 * (p * t["cap"]).sum() + 1) / (p.sum() + t["cap"].sum() + 1)
        kw = t["kpw"].repeat_interleave(2, dim=1)
        losses = {
            "capillary": cap_bce + dice,
            "center": focal_heatmap_loss(out["center"], t["center"]),
            "offset": (F.smooth_l1_loss(out["offset"] * OFFSET_SCALE, t["offset"], reduction="none", beta=1.0)
                       * fg).sum() / n_fg / 8.0,
            "keypoints": self.kp_heatmap_loss(out["kph"], t["kph"]),
            "keypoint_offset": (F.smooth_l1_loss(out["kpo"] * KP_OFFSET_SCALE, t["kpo"], reduction="none",
                                                 beta=0.5) * kw).sum() / kw.sum().clamp(min=1),
            "radius": (F.smooth_l1_loss(F.softplus(out["radius"]), t["radius"], reduction="none") * fg).sum() / n_fg,
            "class": F.cross_entropy(out["cls"], t["cls"], weight=self.class_weights, ignore_index=-1)
            if (t["cls"] >= 0).any() else out["cls"].sum() * 0,
        }
        losses["instance_class"] = self.instance_class_loss(out["cls"], t)
        total = 0
        for i, name in enumerate(self.TASKS):
            s = self.log_vars[i].clamp(max=self.max_log_vars.get(i, math.inf))
            total = total + torch.exp(-s) * losses[name] + s
        return total, {k: float(v.detach()) for k, v in losses.items()}

    def instance_class_loss(self, logits, t):
        """Cross-entropy of each instance's class logits averaged over its cells, as the decoder averages them."""
        c = logits.shape[1]
        ids = t["inst"].reshape(-1)
        flat = logits.permute(0, 2, 3, 1).reshape(-1, c)
        on = ids > 0
        n = t["inst_cls"].shape[0]
        sums = torch.zeros(n, c, dtype=flat.dtype).index_add_(0, ids[on], flat[on])
        counts = torch.bincount(ids[on], minlength=n).to(flat.dtype)
        keep = (counts >= self.MIN_INSTANCE_CELLS) & (t["inst_cls"] >= 0)
        if not bool(keep.any()):
            return logits.sum() * 0
        return F.cross_entropy(sums[keep] / counts[keep, None], t["inst_cls"][keep], weight=self.class_weights)
