#!/usr/bin/python3
"""Times PyTorch eager inference of the reference weights on a folder of images; prints images/s.

    bench_eager.py --weights .local/model-train/final.pt --images samples/demo-study [--limit 8] [--warmup 1]

Same preprocessing as the ONNX contract (RGB, (v/255-0.5)/0.25, pad to 32), batch 1, 2 threads.
"""
import argparse
import glob
import json
import os
import sys
import time

import cv2
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import load_model, run_model  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--images", default="samples/demo-study")
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    paths = sorted(p for p in glob.glob(os.path.join(a.images, "**", "*"), recursive=True)
                   if p.lower().endswith((".jpg", ".jpeg", ".png", ".tif", ".tiff")))[: a.limit]
    if not paths:
        sys.exit(f"no images under {a.images}")
    model, _ = load_model(a.weights)
    images = [cv2.imread(p, cv2.IMREAD_COLOR)[..., ::-1] for p in paths]
    for img in images[: a.warmup]:
        run_model(model, img)
    t0 = time.time()
    for img in images:
        run_model(model, img)
    dt = time.time() - t0
    print(json.dumps({"engine": "pytorch-eager", "torch": torch.__version__, "threads": a.threads,
                      "images": len(images), "seconds": round(dt, 3), "images_per_s": round(len(images) / dt, 3),
                      "size": f"{images[0].shape[1]}x{images[0].shape[0]}"}))


if __name__ == "__main__":
    main()
