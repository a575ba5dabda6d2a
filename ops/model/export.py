#!/usr/bin/python3
"""Exports trained NfcNet weights to a dense/v1 ONNX model with the metadata of docs/model-contract.md.

    export.py --weights .local/model-train/final.pt --out models/nfc-reference.onnx [--version 1.0.0]
              [--channel-multiple 16]

Opset 13, dynamic batch/height/width. Compares the traced graph's outputs with eager PyTorch on a random input
first, then checks the graph (onnx.checker, shape inference) and the 10 MB limit. A failed check exits non-zero and
leaves --out and <out>.sha256 as they were; on success both are replaced (written beside them, then renamed).

--channel-multiple pads every width to a multiple of it with channels that are always zero (same outputs): ORT's
float CPU kernels work in blocks of 16 channels, and at 24 channels the stride-2 Concat left that layout, which cost
reorders of the largest tensors (ops/model/README.md, Benchmark). 1 exports the trained widths; quantize.py wants
that one, since its int8 kernels would compute the zero channels.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nfcnet import OUTPUT_NAMES, STRIDE, DenseV1, net_for, pad_state_dict, trained_widths  # noqa: E402
from cli_checks import existing_file, positive_int  # noqa: E402
from nfcsim_shapes import CLASSES, KEYPOINTS  # noqa: E402
from simulate import trained_sim_version  # noqa: E402
import repo_paths  # noqa: E402

MAX_BYTES = 10 * 1024 * 1024
MAX_TRACE_DIFF = 1e-4   # traced against eager outputs; the shipped weights give 0


def metadata(version, seed, steps, sim_version):
    return {
        "nfc.contract": "dense/v1",
        "nfc.model_name": "nfc-reference",
        "nfc.model_version": version,
        "nfc.classes": json.dumps(CLASSES),
        "nfc.keypoints": json.dumps(KEYPOINTS),
        "nfc.input.color_order": "RGB",
        "nfc.input.scale": repr(1 / 255),
        "nfc.input.mean": json.dumps([0.5, 0.5, 0.5]),
        "nfc.input.std": json.dumps([0.25, 0.25, 0.25]),
        # Trained at the images' native scale (1.5-3 um/px): keep the size, pad to the encoder's multiple.
        "nfc.size_policy": json.dumps({"mode": "short_side", "short_side": 0, "multiple": 32}),
        "nfc.stride": str(STRIDE),
        "nfc.training_data": f"nfc-sim {sim_version} seed {seed} ({steps} steps, synthetic only)",
        "nfc.input.um_per_px": "2.25",
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, type=existing_file)
    ap.add_argument("--out", default=repo_paths.in_repo("models", "nfc-reference.onnx"))
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--channel-multiple", type=positive_int, default=16,
                    help="pad every width to a multiple of this with zero channels (1: the trained widths)")
    a = ap.parse_args(argv)

    st = torch.load(a.weights, map_location="cpu")
    trained = net_for(st, len(CLASSES))
    trained.load_state_dict(st.get("ema", st["model"]))  # final.pt holds the average as "model"; a checkpoint as "ema"
    multiple = max(1, a.channel_multiple)
    base = trained_widths(st)
    widths = tuple(-(-w // multiple) * multiple for w in base)
    x = torch.randn(1, 3, 256, 320)
    net, padding_diff = trained, 0.0
    if widths != base:
        net = net_for(st, len(CLASSES), widths)
        net.load_state_dict(pad_state_dict(trained.state_dict(), net, base, widths))
        with torch.no_grad():
            padding_diff = max(float((p - q).abs().max())
                               for p, q in zip(DenseV1(net.eval())(x), DenseV1(trained.eval())(x)))
        if padding_diff > 1e-4:
            sys.exit(f"padding the widths to multiples of {multiple} changed the outputs by {padding_diff}")
    model = DenseV1(net.eval()).eval()

    # The traced graph must reproduce eager outputs at a size other than the tracing size: checked before anything is
    # written, so a failing model never replaces --out.
    traced = torch.jit.trace(model, x)
    x2 = torch.randn(2, 3, 352, 480)
    with torch.no_grad():
        diff = max(float((e - t).abs().max()) for e, t in zip(model(x2), traced(x2)))
    if not diff <= MAX_TRACE_DIFF:
        sys.exit(f"the traced graph differs from eager PyTorch by {diff} (> {MAX_TRACE_DIFF}); {a.out} not written")

    # Everything goes to temporary files beside --out; they replace --out and its .sha256 only when every check
    # passed, and are removed when one fails.
    tmp, part, sha_part = a.out + ".tmp", a.out + ".partial", a.out + ".sha256.partial"
    try:
        dyn = {"input": {0: "batch", 2: "height", 3: "width"}}
        dyn.update({n: {0: "batch", 2: "out_height", 3: "out_width"} for n in OUTPUT_NAMES})
        torch.onnx.export(model, x, tmp, opset_version=13, input_names=["input"], output_names=OUTPUT_NAMES,
                          dynamic_axes=dyn, do_constant_folding=True)

        m = onnx.load(tmp)
        config = st.get("config", {})
        meta = metadata(a.version, config.get("seed", "unknown"), st.get("step"), trained_sim_version(config))
        for k, v in meta.items():
            p = m.metadata_props.add()
            p.key, p.value = k, v
        m.producer_name = "nfc-pipeline ops/model/export.py"
        onnx.checker.check_model(m)
        inferred = onnx.shape_inference.infer_shapes(m)
        onnx.save(m, part)
        size = os.path.getsize(part)
        if size > MAX_BYTES:
            sys.exit(f"the exported model is {size} bytes, over the 10 MB limit; {a.out} not written")
        with open(part, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        with open(sha_part, "w") as f:
            f.write(f"{digest}  {os.path.basename(a.out)}\n")
        # The model first, then its checksum: a stale .sha256 names the old bytes only until the second rename.
        os.replace(part, a.out)
        os.replace(sha_part, a.out + ".sha256")
    finally:
        for leftover in (tmp, part, sha_part):
            if os.path.exists(leftover):
                os.remove(leftover)
    outs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in inferred.graph.output}
    print(json.dumps({"onnx": a.out, "bytes": size, "sha256": digest, "opset": 13, "outputs": outs,
                      "widths": list(widths), "padding_max_abs_diff": padding_diff,
                      "trace_vs_eager_max_abs_diff": diff}, indent=2))


if __name__ == "__main__":
    main()
