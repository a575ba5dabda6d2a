#!/usr/bin/python3
"""Exports a torchvision Mask R-CNN with a keypoint head to ONNX under the instances/v1 contract.

The exported graph takes the normalised image [1,3,H,W] (normalisation and resizing are the pipeline's job, declared
in the metadata) and returns boxes [N,4], scores [N], labels [N] (int64, 1-based), masks [N,1,28,28] (RoI mask
probabilities, or [N,1,H,W] pasted with --full-masks) and keypoints [N,8,3] (x, y, heatmap score). See
docs/model-contract.md and docs/instances-models.md.

  # a trained checkpoint (a state_dict of torchvision's MaskRCNN with the keypoint head attached, as built here)
  /usr/bin/python3 ops/model/export_maskrcnn.py --weights model.pth --classes normal,blur,hemo,abnormal \
      --out models/nfc-maskrcnn.onnx --short-side 800
  # the test fixture (seeded random weights, tiny backbone) and PyTorch's outputs on a fixed image
  /usr/bin/python3 ops/model/export_maskrcnn.py --tiny --out tests/fixtures/onnx/instances_tiny.onnx
  # PyTorch eager throughput on the same weights, for ops/model/bench_instances.sh
  /usr/bin/python3 ops/model/export_maskrcnn.py --tiny --bench-eager 8
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.ops import MultiScaleRoIAlign

KEYPOINTS = ["up", "down", "left-left", "left-right", "right-left", "right-right", "left-bottom", "right-bottom"]
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SEED = 20261122


class TinyBackbone(nn.Sequential):
    """Three strided convolutions to stride 8: enough structure for the full detection graph, a few kB of weights."""

    def __init__(self, width=16):
        super().__init__(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.out_channels = 2 * width


def build_tiny(num_classes):
    """Mask R-CNN + keypoint head on TinyBackbone, seeded; lenient thresholds so random weights still detect."""
    torch.manual_seed(SEED)
    backbone = TinyBackbone()
    c = backbone.out_channels
    model = MaskRCNN(
        backbone, num_classes=None,
        rpn_anchor_generator=AnchorGenerator(sizes=((24, 48, 96),), aspect_ratios=((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2), box_head=TwoMLPHead(c * 49, 64),
        box_predictor=FastRCNNPredictor(64, num_classes),
        mask_roi_pool=MultiScaleRoIAlign(["0"], 14, 2), mask_head=MaskRCNNHeads(c, (16, 16), 1),
        mask_predictor=MaskRCNNPredictor(16, 16, num_classes),
        rpn_pre_nms_top_n_test=100, rpn_post_nms_top_n_test=30,
        box_score_thresh=0.0, box_detections_per_img=6)
    attach_keypoint_head(model, c, head_width=32, layers=2)
    # Random heads score every RoI alike; amplified weights spread the scores (no near-ties at the top-k cut, where
    # float differences between runtimes would pick different detections) and move boxes off the anchors.
    with torch.no_grad():
        predictor = model.roi_heads.box_predictor
        predictor.cls_score.bias.copy_(torch.linspace(-2.0, 2.0, num_classes))
        predictor.cls_score.weight.mul_(100.0)
        predictor.bbox_pred.weight.mul_(12.5)
    return model


def attach_keypoint_head(model, in_channels, head_width=512, layers=8):
    """torchvision's RoIHeads runs the mask and keypoint branches together once both sets of modules are set."""
    model.roi_heads.keypoint_roi_pool = MultiScaleRoIAlign(["0", "1", "2", "3"] if in_channels == 256 else ["0"], 14, 2)
    model.roi_heads.keypoint_head = KeypointRCNNHeads(in_channels, (head_width,) * layers)
    model.roi_heads.keypoint_predictor = KeypointRCNNPredictor(head_width, len(KEYPOINTS))


def build_resnet50(num_classes, max_detections):
    """torchvision's maskrcnn_resnet50_fpn layout plus keypointrcnn_resnet50_fpn's keypoint head (512 wide, 8 layers)."""
    torch.manual_seed(SEED)
    backbone = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=0)
    model = MaskRCNN(backbone, num_classes=num_classes, box_detections_per_img=max_detections)
    attach_keypoint_head(model, backbone.out_channels)
    return model


class InstancesV1(nn.Module):
    """The detector without torchvision's GeneralizedRCNNTransform: the pipeline resizes and normalises, so the
    boxes and keypoints come out in model input pixels (continuous coordinates, pixel k spans [k, k+1])."""

    def __init__(self, model, full_masks):
        super().__init__()
        self.model = model
        self.full_masks = full_masks

    def forward(self, image):
        height, width = image.shape[-2], image.shape[-1]
        images = ImageList(image, [(height, width)])
        features = self.model.backbone(image)
        if isinstance(features, torch.Tensor):
            features = {"0": features}
        proposals, _ = self.model.rpn(images, features)
        detections, _ = self.model.roi_heads(features, proposals, images.image_sizes)
        d = detections[0]
        keypoints = torch.cat([d["keypoints"][:, :, :2], d["keypoints_scores"].unsqueeze(-1)], dim=2)
        masks = d["masks"]
        if self.full_masks:
            masks = paste_masks_in_image(masks, d["boxes"], (height, width))
        return d["boxes"], d["scores"], d["labels"], masks, keypoints


def metadata(args, classes):
    size_policy = ({"mode": "fixed", "width": args.fixed[0], "height": args.fixed[1]} if args.fixed
                   else {"mode": "short_side", "short_side": args.short_side, "multiple": 32})
    return {
        "nfc.contract": "instances/v1",
        "nfc.model_name": args.name,
        "nfc.model_version": args.version,
        "nfc.classes": json.dumps(classes),
        "nfc.keypoints": json.dumps(KEYPOINTS),
        "nfc.label_offset": "1",
        "nfc.keypoint_score": "logit",
        "nfc.input.color_order": "RGB",
        "nfc.input.scale": str(1 / 255),
        "nfc.input.mean": json.dumps(IMAGENET_MEAN),
        "nfc.input.std": json.dumps(IMAGENET_STD),
        "nfc.size_policy": json.dumps(size_policy),
        "nfc.training_data": args.training_data,
    }


def fixture_image(width=192, height=160):
    """A seeded nailfold-like image: pink background, darker red hairpin loops, some noise (uint8 HWC RGB)."""
    rng = np.random.default_rng(SEED)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([200 + 0 * xx, 140 + 0 * xx, 130 + 0 * xx], axis=-1).astype(np.float32)
    for cx, top, limb in [(40, 30, 14), (96, 40, 18), (150, 24, 12)]:
        arc = np.abs(np.hypot(xx - cx, yy - (top + limb)) - limb) < 4
        arc &= yy < top + limb
        limbs = (np.abs(np.abs(xx - cx) - limb) < 4) & (yy >= top + limb) & (yy < top + limb + 70)
        image[arc | limbs] = [150, 40, 40]
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def normalise(rgb):
    x = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0
    return ((x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]).unsqueeze(0)


def run_length(bits):
    """Row-major runs, alternating, starting with a run of zeros (COCO-style but row-major)."""
    flat = bits.reshape(-1).astype(np.uint8)
    runs, value, count = [], 0, 0
    for b in flat:
        if b == value:
            count += 1
        else:
            runs.append(count)
            value, count = b, 1
    runs.append(count)
    return runs


def record_reference(wrapper, rgb, path):
    """PyTorch's outputs on the fixture image, with masks pasted by torchvision at 0.5 (the C# parity test's truth)."""
    with torch.no_grad():
        boxes, scores, labels, masks, keypoints = wrapper(normalise(rgb))
        if masks.shape[-1] != rgb.shape[1] or masks.shape[-2] != rgb.shape[0]:
            masks = paste_masks_in_image(masks, boxes, rgb.shape[:2])
    pasted = (masks[:, 0] > 0.5).numpy()
    reference = {
        "image": {"width": int(rgb.shape[1]), "height": int(rgb.shape[0]), "seed": SEED,
                  "rgb_file": os.path.basename(path).replace(".pytorch.json", ".input.rgb")},
        "mask_threshold": 0.5,
        "detections": [{
            "box": [round(float(v), 6) for v in boxes[i]],
            "score": float(scores[i]),
            "label": int(labels[i]),
            "keypoints": [[round(float(v), 6) for v in k] for k in keypoints[i]],
            "mask_area": int(pasted[i].sum()),
            "mask_rle": run_length(pasted[i]),
        } for i in range(len(boxes))],
    }
    with open(path, "w") as f:
        json.dump(reference, f, indent=1)
    with open(os.path.join(os.path.dirname(path), reference["image"]["rgb_file"]), "wb") as f:
        f.write(rgb.tobytes())
    return reference


def export(wrapper, path, meta, opset, sample):
    dynamic = {"image": {2: "height", 3: "width"}, "boxes": {0: "detections"}, "scores": {0: "detections"},
               "labels": {0: "detections"}, "masks": {0: "detections"}, "keypoints": {0: "detections"}}
    if wrapper.full_masks:
        dynamic["masks"].update({2: "height", 3: "width"})
    torch.onnx.export(wrapper, sample, path, opset_version=opset, input_names=["image"],
                      output_names=["boxes", "scores", "labels", "masks", "keypoints"], dynamic_axes=dynamic,
                      do_constant_folding=True)
    model = onnx.load(path)
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    onnx.save(model, path)


def bench_eager(wrapper, rgb, count):
    x = normalise(rgb)
    with torch.no_grad():
        wrapper(x)
        start = time.perf_counter()
        for _ in range(count):
            wrapper(x)
        elapsed = time.perf_counter() - start
    print(f"eager_images_per_s={count / elapsed:.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny seeded random model, for the test fixture")
    p.add_argument("--weights", help="state_dict (.pth) of the resnet50-FPN Mask R-CNN + keypoint head built here")
    p.add_argument("--classes", default="normal,blur,hemo,abnormal", help="comma-separated class names, in label order")
    p.add_argument("--out", help="the .onnx to write")
    p.add_argument("--name", default=None)
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--training-data", default=None)
    p.add_argument("--short-side", type=int, default=800, help="size policy short side (0 keeps the image size)")
    p.add_argument("--fixed", type=int, nargs=2, metavar=("W", "H"), help="fixed input size instead of short_side")
    p.add_argument("--full-masks", action="store_true", help="paste masks to [N,1,H,W] inside the graph")
    p.add_argument("--max-detections", type=int, default=100,
                   help="detections per image (torchvision's box_detections_per_img); the heads' cost grows with it")
    p.add_argument("--opset", type=int, default=13)
    p.add_argument("--bench-eager", type=int, metavar="IMAGES", help="time PyTorch eager on the fixture image instead")
    p.add_argument("--bench-size", type=int, nargs=2, default=None, metavar=("W", "H"),
                   help="image size for --bench-eager (the size the model sees: pick one the size policy keeps)")
    p.add_argument("--no-reference", action="store_true", help="skip recording PyTorch's outputs next to the model")
    args = p.parse_args()
    torch.set_num_threads(2)

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    num_classes = len(classes) + 1  # torchvision: label 0 is background
    if args.tiny:
        model = build_tiny(num_classes)
        args.short_side = 0 if args.short_side == 800 else args.short_side
        args.name = args.name or "maskrcnn-tiny-fixture"
        args.training_data = args.training_data or f"none: random weights, seed {SEED}"
    else:
        model = build_resnet50(num_classes, args.max_detections)
        if args.weights:
            state = torch.load(args.weights, map_location="cpu")
            model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
        args.name = args.name or "nfc-maskrcnn"
        args.training_data = args.training_data or ("unknown" if args.weights else f"none: random weights, seed {SEED}")
    model.eval()
    wrapper = InstancesV1(model, args.full_masks).eval()

    size = args.bench_size or ((192, 160) if args.tiny else (640, 480))
    rgb = fixture_image(*size)
    if args.bench_eager:
        bench_eager(wrapper, rgb, args.bench_eager)
        return
    if not args.out:
        sys.exit("--out is required")
    export(wrapper, args.out, metadata(args, classes), args.opset, normalise(rgb))
    if args.no_reference:
        print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
        return
    reference = record_reference(wrapper, rgb, os.path.splitext(args.out)[0] + ".pytorch.json")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes), {len(reference['detections'])} reference detections")


if __name__ == "__main__":
    main()
