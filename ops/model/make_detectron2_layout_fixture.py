#!/usr/bin/python3
"""Writes tests/fixtures/onnx/instances_detectron2_layout.onnx: a stand-in with the interface of a detectron2
TracingAdapter export (one [3,96,128] 0-255 BGR input of fixed size; Instances fields as outputs in sorted order
with generated names; 9 keypoints), passed through ops/model/adapt_detectron2_onnx.py. detectron2 itself cannot be installed here,
so this checks the adapter and the engine against detectron2's layout, not detectron2's numbers.

The stand-in returns two fixed detections; the first box's x1 and x2 move by 10 × mean(blue) / 255:
  box [10, 20, 40, 80], class 0, score 0.9;  box [60, 10, 90, 50], class 2, score 0.8
  keypoint k of 9 at (10 + k, 20) with score 0.1 k; masks 28×28 of 0.9.
Run: /usr/bin/python3 ops/model/make_detectron2_layout_fixture.py
"""
import os
import subprocess
import sys
import tempfile

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "onnx", "instances_detectron2_layout.onnx")


class Detectron2Layout(nn.Module):
    def forward(self, image):  # [3,H,W], BGR, 0-255
        shift = image[0].mean() / 255.0 * 10.0
        boxes = torch.tensor([[10.0, 20.0, 40.0, 80.0], [60.0, 10.0, 90.0, 50.0]])
        boxes = boxes + torch.stack([shift, shift * 0, shift, shift * 0]) * torch.tensor([[1.0], [0.0]])
        classes = torch.tensor([0, 2], dtype=torch.int64)
        k = torch.arange(9, dtype=torch.float32)
        keypoints = torch.stack([10.0 + k, torch.full((9,), 20.0), 0.1 * k], dim=1).unsqueeze(0).repeat(2, 1, 1)
        # Built from the input rather than stored, to keep the fixture small (images must be at least 56×56).
        heatmaps = (image[0, :56, :56] * 0).expand(2, 9, 56, 56)
        masks = torch.full((2, 1, 28, 28), 0.9)
        scores = torch.tensor([0.9, 0.8])
        # The sorted Instances field order of TracingAdapter's flattening.
        return boxes, classes, heatmaps, keypoints, masks, scores


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "detectron2_export.onnx")
        # Like export_model.py: no dynamic axes, so the input size is the sample's.
        torch.onnx.export(Detectron2Layout(), (torch.zeros(3, 96, 128),), raw, opset_version=13, input_names=["image_bgr"])
        subprocess.run([sys.executable, os.path.join(ROOT, "ops", "model", "adapt_detectron2_onnx.py"), raw, OUT,
                        "--classes", "normal,blur,hemo,abnormal", "--fixed", "128", "96", "--name", "detectron2-layout-fixture",
                        "--training-data", "none: fixed stand-in for tests"], check=True)


if __name__ == "__main__":
    main()
