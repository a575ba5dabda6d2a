#!/usr/bin/python3
"""Static int8 quantization of a dense/v1 NfcNet export, in ONNX QDQ form, for ONNX Runtime on the CPU.

    quantize.py --onnx TRAINED_WIDTHS.onnx --out models/nfc-reference.int8.onnx \
                [--calibration-seed 20261122 --calibration-fields 12] [--lib .local/native/libonnxruntime.so.1]

TRAINED_WIDTHS.onnx: `export.py --channel-multiple 1` of the same weights (finish.sh makes it). The shipped float
model carries zero channels for ORT's float kernels, which the int8 kernels would compute (6-9 against 10 images/s).

Why: on this project's 2-core AVX-512 VNNI hosts the int8 model runs about 2.7x as fast through ONNX Runtime
as the float one; what it costs in accuracy is measured on the held-out study in models/README.md.

There is no Python onnxruntime (nor its quantization tool) here, so this inserts the QuantizeLinear /
DequantizeLinear pairs itself, in the layout ORT's QDQ fusions turn into QLinearConv, QLinearAdd and friends:
- weights: int8, symmetric, per output channel; biases int32 at input scale x weight scale;
- activations: uint8, per tensor, ranges from the fp32 model run by the native ORT on calibration fields
  rendered by the training data's generator (nfc_data: the training seed, never the held-out seeds); the input's
  range is the normalisation's own, [-2, 2], one step per grey level;
- quantized tensors: the input, every Relu output, every Conv output that feeds a residual Add, every Concat that
  feeds a Conv, every Resize output at its own range: ORT then resizes in float between a DequantizeLinear and a
  QuantizeLinear; with its input's range ORT fuses the three into a uint8 Resize, which was 3x slower here (22 against
  7 ms of a 1024x768 image's ~100 ms, `nfc bench inference --ort-profile`);
- the heads' last 1x1 convolutions are split into one convolution per output group (capillary logit, class
  logits, centre logit, centre offset, radius, keypoint logits, keypoint offsets) and quantized too, each output
  at its exact calibration min/max: one range for a whole head would put a probability logit and a sub-pixel
  offset on one grid. `--head-outputs float` keeps them float instead (about 15 % slower through the C# bench;
  the same accuracy on the held-out study; ops/model/README.md, int8 variant);
- the quantized input is padded with its zero point from 3 to 4 channels (the stem's weights with zeros), so the
  stem runs ORT's symmetric int8 kernels, which take input channels in multiples of 4, and the radius output's
  Softplus becomes a lookup of its 256 possible inputs: the same outputs (radius within 2e-6), about 5 % faster.
The metadata is copied, the model name gets "-int8" (results stay apart from the float model's) and
`nfc.quantization` is added; the C# side sees the same dense/v1 contract.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import model_input  # noqa: E402
from ort_parity import Ort  # noqa: E402

WEIGHT_QMAX = 127
INPUT_RANGE = (-2.0, 2.0)   # (0/255 - 0.5) / 0.25 and (255/255 - 0.5) / 0.25


def consumers(graph):
    out = {}
    for n in graph.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def set_nodes(graph, nodes):
    """Replaces the graph's node list (protobuf repeated fields have no slice assignment)."""
    del graph.node[:]
    graph.node.extend(nodes)


def tensors_to_quantize(graph):
    """Names of the activations that get a Q/DQ pair (see the module doc), in graph order."""
    cons = consumers(graph)
    names = [graph.input[0].name]
    for n in graph.node:
        out = n.output[0]
        if n.op_type in ("Relu", "Resize") or (
                n.op_type == "Concat" and any(c.op_type == "Conv" for c in cons.get(out, []))):
            names.append(out)   # (other Concats build Resize's int64 sizes)
        elif n.op_type == "Conv" and any(c.op_type == "Add" for c in cons.get(out, [])):
            names.append(out)
    return names


def head_convs(graph, cons):
    """The last convolution of each head: its output goes straight to the contract's outputs (via Slice)."""
    return [n for n in graph.node
            if n.op_type == "Conv" and all(c.op_type == "Slice" for c in cons.get(n.output[0], []))]


def float_head_convs(graph):
    return {n.name for n in head_convs(graph, consumers(graph))}


def split_head_convs(graph):
    """Replaces each head's last convolution and the Slices that read it by one convolution per Slice (its rows of
    the weights), so that each output group (a probability logit, a centre offset, a radius) gets its own uint8
    range. Returns the new convolutions' output names."""
    cons = consumers(graph)
    const = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    inits = {i.name: i for i in graph.initializer}
    heads = head_convs(graph, cons)
    split, outputs = {}, []
    for conv in heads:
        w, b = (numpy_helper.to_array(inits[i]) for i in conv.input[1:3])
        parts = []
        for sl in cons[conv.output[0]]:
            start, end, axis, step = (int(const[i][0]) for i in sl.input[1:5])
            if axis != 1 or step != 1:
                raise SystemExit(f"{sl.name}: expected a channel slice, got axis {axis} step {step}")
            end = min(end, w.shape[0])
            name = f"{conv.name}_{start}_{end}"
            graph.initializer.extend([numpy_helper.from_array(w[start:end], name + "_weight"),
                                      numpy_helper.from_array(b[start:end], name + "_bias")])
            parts.append(helper.make_node("Conv", [conv.input[0], name + "_weight", name + "_bias"], [sl.output[0]],
                                          name, **{a.name: helper.get_attribute_value(a) for a in conv.attribute}))
            outputs.append(sl.output[0])
        split[conv.name] = parts
    slices = [c for conv in heads for c in cons[conv.output[0]]]
    removed = {c.name for c in slices}
    still_read = {i for n in graph.node if n.name not in removed for i in n.input}
    removed |= {n.name for n in graph.node if n.op_type == "Constant" and n.output[0] not in still_read}   # Slices' bounds
    nodes = []
    for n in graph.node:
        if n.name in split:
            nodes += split[n.name]
        elif n.name not in removed:
            nodes.append(n)
    set_nodes(graph, nodes)
    return outputs


def calibration_inputs(seed, count):
    from nfc_data import render_training_field
    for i in range(count):
        yield model_input(render_training_field(seed, 100000 + i)["image"])   # indices past the training cache's


def calibrate(model, names, lib, threads, inputs, percentile, exact=()):
    """Per-tensor (low, high), widened to include 0: the given percentile (and 100 - it) of the values over all
    calibration images, from fp32 ORT; at 100, and for the names in `exact`, the min/max (the percentile runs on a
    subsample)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    for n in names[1:]:
        probe.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nfc-calibration-{os.getpid()}.onnx")
    onnx.save(probe, path)
    try:
        ort = Ort(lib, threads)
        sess = ort.session(path)
        lo = {n: 0.0 for n in names}
        hi = {n: 0.0 for n in names}
        samples = {n: [] for n in names}
        for x in inputs:
            values = [x] + ort.run(sess, x, names[1:])
            for n, v in zip(names, values):
                lo[n] = min(lo[n], float(v.min()))
                hi[n] = max(hi[n], float(v.max()))
                flat = v.ravel()
                samples[n].append(flat[:: max(1, flat.size // 200000)])
    finally:
        os.remove(path)
    ranges = {}
    for n in names:
        v = np.concatenate(samples[n])
        clip = percentile < 100 and n not in exact
        top = float(np.percentile(v, percentile)) if clip else hi[n]
        bottom = float(np.percentile(v, 100 - percentile)) if clip else lo[n]
        ranges[n] = (min(bottom, 0.0), max(top, 1e-6))
    ranges[names[0]] = INPUT_RANGE
    return ranges


def uint8_params(low, high):
    scale = (high - low) / 255.0
    zero = int(round(-low / scale))
    return np.float32(scale), np.uint8(min(max(zero, 0), 255))


def quantize(model, ranges, keep_float):
    g = model.graph
    graph_outputs = {o.name for o in g.output}
    inits = {i.name: i for i in g.initializer}
    new_inits, act_scale, after = [], {}, {}   # after[tensor]: its Q/DQ pair, placed after its producer
    for name, (low, high) in ranges.items():
        s, z = uint8_params(low, high)
        act_scale[name] = float(s)
        new_inits += [numpy_helper.from_array(np.array(s, np.float32), name + "_scale"),
                      numpy_helper.from_array(np.array(z, np.uint8), name + "_zero")]
        # A graph output keeps its name on the DequantizeLinear; its producer writes name_fp.
        source, target = (name + "_fp", name) if name in graph_outputs else (name, name + "_dq")
        after[name] = [
            helper.make_node("QuantizeLinear", [source, name + "_scale", name + "_zero"], [name + "_q"], name + "_Q"),
            helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zero"], [target],
                             name + "_DQ")]
    nodes = list(after.get(g.input[0].name, []))
    for n in g.node:
        x_name = n.input[0] if n.input else None
        for k, i in enumerate(n.input):
            if i in after and i not in graph_outputs:
                n.input[k] = i + "_dq"
        if n.op_type == "Conv" and n.name not in keep_float:
            x_scale = act_scale[x_name]
            w = numpy_helper.to_array(inits[n.input[1]])
            w_scale = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(1), 1e-12) / WEIGHT_QMAX
            wq = np.clip(np.round(w / w_scale[:, None, None, None]), -WEIGHT_QMAX, WEIGHT_QMAX).astype(np.int8)
            wn = n.input[1]
            new_inits += [numpy_helper.from_array(wq, wn + "_q"),
                          numpy_helper.from_array(w_scale.astype(np.float32), wn + "_scale"),
                          numpy_helper.from_array(np.zeros(w.shape[0], np.int8), wn + "_zero")]
            nodes.append(helper.make_node("DequantizeLinear", [wn + "_q", wn + "_scale", wn + "_zero"], [wn + "_dq"],
                                          wn + "_DQ", axis=0))
            n.input[1] = wn + "_dq"
            if len(n.input) > 2 and n.input[2]:
                bn = n.input[2]
                b = numpy_helper.to_array(inits[bn])
                b_scale = (x_scale * w_scale).astype(np.float32)
                bq = np.round(b / b_scale).astype(np.int32)
                new_inits += [numpy_helper.from_array(bq, bn + "_q"),
                              numpy_helper.from_array(b_scale, bn + "_scale"),
                              numpy_helper.from_array(np.zeros(w.shape[0], np.int32), bn + "_zero")]
                nodes.append(helper.make_node("DequantizeLinear", [bn + "_q", bn + "_scale", bn + "_zero"],
                                              [bn + "_dq"], bn + "_DQ", axis=0))
                n.input[2] = bn + "_dq"
        nodes.append(n)
        if n.output and n.output[0] in after:
            nodes += after[n.output[0]]
            if n.output[0] in graph_outputs:
                n.output[0] += "_fp"
    set_nodes(g, nodes)
    used = {i for n in g.node for i in n.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(kept + [i for i in new_inits if i.name in used])
    return model


def pad_input_channels(model, multiple=4):
    """Pads the quantized input (3 channels) with its zero point to a multiple of 4 channels, and the first
    convolution's weights with zeros to match: the same outputs, but ORT's symmetric int8 convolution (its indirect
    MlasConvSym kernels) takes only input channels in multiples of 4; with 3 the stem ran the generic im2col path."""
    g = model.graph
    x = g.input[0].name
    channels = g.input[0].type.tensor_type.shape.dim[1].dim_value
    extra = -channels % multiple
    if not extra:
        return 0
    inits = {i.name: i for i in g.initializer}
    dq = next(n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] == x + "_q")
    weight_dqs = {n.output[0]: n for n in g.node if n.op_type == "DequantizeLinear"}
    for conv in (n for n in g.node if n.op_type == "Conv" and n.input[0] == dq.output[0]):
        wq = inits[weight_dqs[conv.input[1]].input[0]]
        w = numpy_helper.to_array(wq)
        wq.CopyFrom(numpy_helper.from_array(np.pad(w, ((0, 0), (0, extra), (0, 0), (0, 0))), wq.name))
    g.initializer.append(numpy_helper.from_array(np.array([0, 0, 0, 0, 0, extra, 0, 0], np.int64), x + "_channel_pads"))
    pad = helper.make_node("Pad", [x + "_q", x + "_channel_pads", x + "_zero"], [x + "_q_padded"], x + "_ChannelPad")
    dq.input[0] = x + "_q_padded"
    set_nodes(g, [m for n in g.node for m in ([pad, n] if n is dq else [n])])
    return channels + extra


def softplus_by_table(model, ranges):
    """Each Softplus that reads a quantized tensor becomes a lookup of its 256 possible values (Cast + Gather):
    ORT's Softplus is scalar code, 2.4 ms for the one-channel radius map of a 1024x768 field; the table gives
    softplus of the same dequantized values (within float rounding)."""
    g = model.graph
    cons = consumers(g)
    lookups, dropped = {}, set()
    for sp in g.node:
        t = sp.input[0][: -len("_dq")] if sp.op_type == "Softplus" and sp.input[0].endswith("_dq") else None
        if t not in ranges:
            continue
        s, z = uint8_params(*ranges[t])
        v = (np.arange(256, dtype=np.float64) - float(z)) * float(s)
        table = np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))
        g.initializer.append(numpy_helper.from_array(table.astype(np.float32), t + "_softplus_table"))
        lookups[sp.name] = [
            helper.make_node("Cast", [t + "_q"], [t + "_index"], t + "_Cast", to=TensorProto.INT32),
            helper.make_node("Gather", [t + "_softplus_table", t + "_index"], [sp.output[0]], t + "_Softplus", axis=0)]
        if len(cons[sp.input[0]]) == 1:   # the DequantizeLinear fed only this Softplus
            dropped.add(t + "_DQ")
    set_nodes(g, [m for n in g.node if n.name not in dropped for m in lookups.get(n.name, [n])])
    return len(lookups)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", required=True, help="an export at the trained widths: export.py --channel-multiple 1")
    ap.add_argument("--out", default="models/nfc-reference.int8.onnx")
    ap.add_argument("--lib", default=".local/native/libonnxruntime.so.1")
    ap.add_argument("--calibration-seed", type=int, default=20261122)
    ap.add_argument("--calibration-fields", type=int, default=12)
    ap.add_argument("--percentile", type=float, default=99.99,
                    help="activation range: this percentile of the calibration values (100 = min/max)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--head-outputs", choices=["int8", "float"], default="int8",
                    help="int8: the heads' last convolutions too, split per output group; float: they stay float")
    a = ap.parse_args(argv)
    model = onnx.load(a.onnx)
    heads = split_head_convs(model.graph) if a.head_outputs == "int8" else []
    names = tensors_to_quantize(model.graph) + heads
    ranges = calibrate(model, names, a.lib, a.threads,
                       calibration_inputs(a.calibration_seed, a.calibration_fields), a.percentile, set(heads))
    quantize(model, ranges, set() if heads else float_head_convs(model.graph))
    padded = pad_input_channels(model)
    tables = softplus_by_table(model, ranges)
    info = {"scheme": "QDQ uint8 activations per tensor, int8 weights per channel", "tensors": len(names),
            "head_outputs": "int8, one range per output group" if heads else "float",
            "input_channels_padded_to": padded or None, "softplus_tables": tables,
            "calibration": f"{a.calibration_fields} fields, nfc_data seed {a.calibration_seed}",
            "percentile": a.percentile}
    for p in model.metadata_props:
        if p.key == "nfc.model_name":
            p.value += "-int8"
    p = model.metadata_props.add()
    p.key, p.value = "nfc.quantization", json.dumps(info)
    model.producer_name = "nfc-pipeline ops/model/quantize.py"
    onnx.checker.check_model(model)
    tmp = a.out + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, a.out)
    digest = hashlib.sha256(open(a.out, "rb").read()).hexdigest()
    with open(a.out + ".sha256", "w") as f:
        f.write(f"{digest}  {os.path.basename(a.out)}\n")
    print(json.dumps(info | {"out": a.out, "bytes": os.path.getsize(a.out), "sha256": digest}))


if __name__ == "__main__":
    main()
