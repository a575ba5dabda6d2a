#!/usr/bin/python3
"""Times PyTorch eager inference of the reference weights on a folder of images; prints images/s.

    bench_eager.py --weights .local/model-train/final.pt --images samples/demo-study [--limit 8] [--batch 1] [--warmup 1]
                   [--memory-format contiguous|channels_last] [--streams 1]

Same preprocessing as the ONNX contract (RGB, (v/255-0.5)/0.25, pad to 32), 2 threads. With --batch B the images
(those of the folder's most common size, as `nfc bench inference` takes) run B to a forward pass, cycled to whole
batches. --memory-format channels_last puts the weights and inputs in NHWC, PyTorch's faster CPU layout for
convolutions here (oneDNN runs them without reordering each activation). --streams N runs N forward passes at once
from N Python threads (PyTorch releases the GIL inside its operators), each with threads/N intra-op threads, as
ONNX Runtime's CPU sessions run two at once by default.
"""
import argparse
import collections
import glob
import json
import os
import sys
import threading
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import existing_dir, existing_file, positive_int  # noqa: E402
from evaluate import load_model, model_input  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, type=existing_file)
    ap.add_argument("--images", default="samples/demo-study", type=existing_dir)
    ap.add_argument("--limit", type=positive_int, default=8)
    ap.add_argument("--batch", type=positive_int, default=1)
    ap.add_argument("--warmup", type=int, default=1, help="batches run before timing")
    ap.add_argument("--threads", type=positive_int, default=2)
    ap.add_argument("--memory-format", choices=["contiguous", "channels_last"], default="contiguous")
    ap.add_argument("--streams", type=positive_int, default=1, help="forward passes at once, threads/streams threads each")
    a = ap.parse_args(argv)
    if a.batch < 1 or a.limit < 1 or a.streams < 1:
        sys.exit("--batch, --limit and --streams must be at least 1")
    paths = sorted(p for p in glob.glob(os.path.join(a.images, "**", "*"), recursive=True)
                   if p.lower().endswith((".jpg", ".jpeg", ".png", ".tif", ".tiff")))[: a.limit]
    if not paths:
        sys.exit(f"no images under {a.images}")
    model, _ = load_model(a.weights)
    layout = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=layout)
    images = [cv2.imread(p, cv2.IMREAD_COLOR)[..., ::-1] for p in paths]
    size = collections.Counter(i.shape for i in images).most_common(1)[0][0]
    inputs = [model_input(i)[0] for i in images if i.shape == size]
    count = -(-len(images) // a.batch) * a.batch   # whole batches, as the ORT benchmark times them
    batches = [torch.from_numpy(np.stack([inputs[(k + j) % len(inputs)] for j in range(a.batch)]))
               .contiguous(memory_format=layout) for k in range(0, count, a.batch)]
    def run(share):
        torch.set_num_threads(max(1, a.threads // a.streams))   # OpenMP's thread count is each calling thread's own
        with torch.no_grad():
            for x in share:
                model(x)

    run(batches[: a.warmup])
    workers = [threading.Thread(target=run, args=(batches[k:: a.streams],)) for k in range(1, a.streams)]
    t0 = time.time()
    for w in workers:
        w.start()
    run(batches[:: a.streams])   # one stream on this thread: with --streams 1, the plain loop
    for w in workers:
        w.join()
    dt = time.time() - t0
    print(json.dumps({"engine": "pytorch-eager", "torch": torch.__version__, "threads": a.threads, "batch": a.batch,
                      "memory_format": a.memory_format, "streams": a.streams,
                      "images": count, "seconds": round(dt, 3), "images_per_s": round(count / dt, 3),
                      "size": f"{size[1]}x{size[0]}"}))


if __name__ == "__main__":
    main()
