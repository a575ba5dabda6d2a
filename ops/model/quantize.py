#!/usr/bin/python3
"""Static int8 quantization of a dense/v1 NfcNet export, in ONNX QDQ form, for ONNX Runtime on the CPU.

    quantize.py --onnx TRAINED_WIDTHS.onnx --out models/nfc-reference.int8.onnx \
                [--calibration-seed 20261122 --calibration-fields 12] [--lib .local/native/libonnxruntime.so.1]

TRAINED_WIDTHS.onnx: `export.py --channel-multiple 1` of the same weights (finish.sh makes it). The shipped float
model carries zero channels for ORT's float kernels, which the int8 kernels would compute (6-9 against 10 images/s).

Why: on this project's 2-core AVX-512 VNNI hosts the int8 model runs about 3x as fast through ONNX Runtime
as the float one; what it costs in accuracy is measured on the held-out study in models/README.md.

There is no Python onnxruntime (nor its quantization tool) here, so this inserts the QuantizeLinear /
DequantizeLinear pairs itself, in the layout ORT's QDQ fusions turn into QLinearConv, QLinearAdd and friends:
- weights: int8, symmetric, per output channel; biases int32 at input scale x weight scale;
- activations: uint8, per tensor, ranges from the fp32 model run by the native ORT on calibration fields
  rendered by the training data's generator (nfc_data: the training seed, never the held-out seeds); the input's
  range is the normalisation's own, [-2, 2], about one step per grey level (each level falls on a rounding
  boundary, so float rounding merges 17 pairs of the 256: within half a level, below the sensor noise);
- quantized tensors: the input, every Relu output, every Conv output that feeds a residual Add, every Concat that
  feeds a Conv, every Resize output at its own range: ORT then resizes in float between a DequantizeLinear and a
  QuantizeLinear; with its input's range ORT fuses the three into a uint8 Resize, which was 3x slower here (22 against
  7 ms of a 1024x768 image's ~100 ms, `nfc bench inference --ort-profile`);
- the heads' last 1x1 convolutions are quantized too, each output channel at its exact calibration min/max: one
  range for a whole head would put a probability logit and a sub-pixel offset on one grid. QLinearConv has one
  output scale per tensor, so each such convolution writes uint8 at scale 1, with the channel's scale divided into
  its weights' declared scales and its zero point folded into the bias; the contract's Slices then slice uint8, each
  followed by a per-channel DequantizeLinear that also takes in the offsets' units (no Mul). About 8 % faster than
  one convolution per output group (ops/model/README.md, int8 variant). `--head-outputs float` keeps them float;
- each Concat (the decoder's upsampled path beside its skip) and its inputs get one range, the widest of theirs:
  ORT's QLinearConcat then copies its inputs instead of requantizing each through a lookup table, on one thread,
  pixel by pixel (7.2 against 1.8 ms per 1024x768 field, `nfc bench inference --ort-profile`);
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
from cli_checks import existing_file, positive_int  # noqa: E402
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


def calibration_inputs(seed, count):
    from nfc_data import render_training_field
    for i in range(count):
        yield model_input(render_training_field(seed, 100000 + i)["image"])   # indices past the training cache's


def calibrate(model, names, lib, threads, inputs, percentile, per_channel=()):
    """Per-tensor (low, high), widened to include 0: the given percentile (and 100 - it) of the values over all
    calibration images, from fp32 ORT; at 100, the min/max (the percentile runs on a subsample). For the names in
    `per_channel`, each channel's min/max (arrays), also widened to include 0."""
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
        channel_lo = {n: None for n in per_channel}
        channel_hi = {n: None for n in per_channel}
        for x in inputs:
            values = [x] + ort.run(sess, x, names[1:])
            for n, v in zip(names, values):
                if n in channel_lo:
                    low, high = v.min(axis=(0, 2, 3)), v.max(axis=(0, 2, 3))
                    channel_lo[n] = low if channel_lo[n] is None else np.minimum(channel_lo[n], low)
                    channel_hi[n] = high if channel_hi[n] is None else np.maximum(channel_hi[n], high)
                    continue
                lo[n] = min(lo[n], float(v.min()))
                hi[n] = max(hi[n], float(v.max()))
                flat = v.ravel()
                samples[n].append(flat[:: max(1, flat.size // 200000)])
    finally:
        os.remove(path)
    ranges = {n: (np.minimum(channel_lo[n], 0.0), np.maximum(channel_hi[n], 1e-6)) for n in per_channel}
    for n in names:
        if n in ranges:
            continue
        v = np.concatenate(samples[n])
        clip = percentile < 100
        top = float(np.percentile(v, percentile)) if clip else hi[n]
        bottom = float(np.percentile(v, 100 - percentile)) if clip else lo[n]
        ranges[n] = (min(bottom, 0.0), max(top, 1e-6))
    ranges[names[0]] = INPUT_RANGE
    return ranges


def uint8_params(low, high):
    scale = (high - low) / 255.0
    zero = int(round(-low / scale))
    return np.float32(scale), np.uint8(min(max(zero, 0), 255))


def share_concat_ranges(graph, ranges):
    """Gives each quantized Concat and its inputs one range, the widest of theirs, so that ORT's QLinearConcat copies
    its inputs instead of requantizing each through a lookup table (one thread, pixel by pixel in NHWC). Only
    where all of them start at 0 (ReLU and Resize outputs). Returns how many Concats it joined."""
    joined = 0
    for n in graph.node:
        group = [*n.input, n.output[0]] if n.op_type == "Concat" else []
        if not group or not all(t in ranges and ranges[t][0] == 0.0 for t in group):
            continue
        high = max(ranges[t][1] for t in group)
        for t in group:
            ranges[t] = (0.0, high)
        joined += 1
    return joined


def uint8_channel_params(low, high):
    scale = ((high - low) / 255.0).astype(np.float32)
    return scale, np.clip(np.round(-low / scale), 0, 255).astype(np.uint8)


def quantize(model, ranges, keep_float, out_channels=None):
    """QDQ pairs on the tensors in `ranges` and int8 weights on every Conv not in `keep_float`. `out_channels` maps a
    Conv's output to per-channel uint8 (scales, zero points): that Conv's output Q gets scale 1 and zero point 0, its
    weights' declared scales are divided by the channel's scale and the zero point is folded into its bias, so ORT's
    QLinearConv requantizes each channel to its own range (QLinearConv's own output scale is one per tensor)."""
    out_channels = out_channels or {}
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
            out_scale, out_zero = out_channels.get(n.output[0], (np.float32(1), np.uint8(0)))
            declared = (w_scale / out_scale).astype(np.float32)
            wn = n.input[1]
            new_inits += [numpy_helper.from_array(wq, wn + "_q"),
                          numpy_helper.from_array(declared, wn + "_scale"),
                          numpy_helper.from_array(np.zeros(w.shape[0], np.int8), wn + "_zero")]
            nodes.append(helper.make_node("DequantizeLinear", [wn + "_q", wn + "_scale", wn + "_zero"], [wn + "_dq"],
                                          wn + "_DQ", axis=0))
            n.input[1] = wn + "_dq"
            if len(n.input) > 2 and n.input[2]:
                bn = n.input[2]
                b = numpy_helper.to_array(inits[bn])
                if n.output[0] in out_channels:   # y / s + z: the zero point at the accumulator's scale
                    b = b + out_zero.astype(np.float32) * out_scale
                b_scale = (x_scale * declared).astype(np.float32)
                bq = np.round(b / (x_scale * w_scale).astype(np.float32)).astype(np.int32)
                new_inits += [numpy_helper.from_array(bq, bn + "_q"),
                              numpy_helper.from_array(b_scale, bn + "_scale"),
                              numpy_helper.from_array(np.zeros(w.shape[0], np.int32), bn + "_zero")]
                nodes.append(helper.make_node("DequantizeLinear", [bn + "_q", bn + "_scale", bn + "_zero"],
                                              [bn + "_dq"], bn + "_DQ", axis=0))
                n.input[2] = bn + "_dq"
        nodes.append(n)
        if n.output and n.output[0] in out_channels:   # uint8 on each channel's grid, dequantized after the Slices
            y = n.output[0]
            n.output[0] = y + "_fp"
            new_inits += [numpy_helper.from_array(np.array(1.0, np.float32), y + "_unit_scale"),
                          numpy_helper.from_array(np.array(0, np.uint8), y + "_unit_zero")]
            nodes.append(helper.make_node("QuantizeLinear", [y + "_fp", y + "_unit_scale", y + "_unit_zero"], [y],
                                          y + "_Q"))
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


def dequantize_head_slices(graph, out_channels):
    """After quantize(): each Slice of a per-channel uint8 head output slices the uint8 tensor and gets a per-channel
    DequantizeLinear (axis 1) with its channels' scales and zero points. A Mul by a constant after it (the offsets'
    units) is folded into the scales, a Softplus of one channel becomes a lookup of its 256 values (Cast + Gather:
    ORT's Softplus is scalar code, 2.4 ms for the one-channel radius map of a 1024x768 field, the lookup 0.7), and a
    graph output keeps its name. Returns the number of Softplus tables."""
    cons = consumers(graph)
    const = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    graph_outputs = {o.name for o in graph.output}
    replaced, dropped, tables = {}, set(), 0
    for sl in graph.node:
        if sl.op_type != "Slice" or sl.input[0] not in out_channels:
            continue
        start, end, axis, step = (int(const[i][0]) for i in sl.input[1:5])
        if axis != 1 or step != 1:
            raise SystemExit(f"{sl.name}: expected a channel slice, got axis {axis} step {step}")
        scale, zero = (a[start:end] for a in out_channels[sl.input[0]])
        y = sl.output[0]
        sl.output[0] = y + "_q"
        readers = [] if y in graph_outputs else cons.get(y, [])
        reader = readers[0] if len(readers) == 1 else None
        factor = [const.get(i) for i in reader.input if i != y] if reader is not None else []
        target = y
        if reader is not None and reader.op_type == "Mul" and len(factor) == 1 and getattr(factor[0], "size", 0) == 1:
            scale, target = (scale * factor[0].reshape(())).astype(np.float32), reader.output[0]
            dropped.add(reader.name)
        elif reader is not None and reader.op_type == "Softplus" and scale.size == 1:
            v = (np.arange(256, dtype=np.float64) - float(zero[0])) * float(scale[0])
            table = np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))
            graph.initializer.append(numpy_helper.from_array(table.astype(np.float32), y + "_softplus_table"))
            replaced[sl.name] = [
                sl, helper.make_node("Cast", [y + "_q"], [y + "_index"], y + "_Cast", to=TensorProto.INT32),
                helper.make_node("Gather", [y + "_softplus_table", y + "_index"], [reader.output[0]], y + "_Softplus",
                                 axis=0)]
            dropped.add(reader.name)
            tables += 1
            continue
        graph.initializer.extend([numpy_helper.from_array(scale, y + "_channel_scale"),
                                  numpy_helper.from_array(zero, y + "_channel_zero")])
        replaced[sl.name] = [sl, helper.make_node("DequantizeLinear", [y + "_q", y + "_channel_scale",
                                                                      y + "_channel_zero"], [target], y + "_DQ", axis=1)]
    kept = [m for n in graph.node if n.name not in dropped for m in replaced.get(n.name, [n])]
    read = {i for n in kept for i in n.input} | graph_outputs
    set_nodes(graph, [n for n in kept if n.op_type != "Constant" or n.output[0] in read])
    return tables


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", required=True, type=existing_file, help="an export at the trained widths: export.py --channel-multiple 1")
    ap.add_argument("--out", default="models/nfc-reference.int8.onnx")
    ap.add_argument("--lib", default=".local/native/libonnxruntime.so.1", type=existing_file)
    ap.add_argument("--calibration-seed", type=int, default=20261122)
    ap.add_argument("--calibration-fields", type=positive_int, default=12)
    ap.add_argument("--percentile", type=float, default=99.99,
                    help="activation range: this percentile of the calibration values (100 = min/max)")
    ap.add_argument("--threads", type=positive_int, default=2)
    ap.add_argument("--head-outputs", choices=["int8", "float"], default="int8",
                    help="int8: the heads' last convolutions too, each output channel on its own grid; float: they "
                         "stay float")
    a = ap.parse_args(argv)
    model = onnx.load(a.onnx)
    per_channel = ([n.output[0] for n in head_convs(model.graph, consumers(model.graph))]
                   if a.head_outputs == "int8" else [])
    names = tensors_to_quantize(model.graph) + per_channel
    ranges = calibrate(model, names, a.lib, a.threads, calibration_inputs(a.calibration_seed, a.calibration_fields),
                       a.percentile, set(per_channel))
    out_channels = {h: uint8_channel_params(*ranges.pop(h)) for h in per_channel}
    shared = share_concat_ranges(model.graph, ranges)
    quantize(model, ranges, set() if per_channel else float_head_convs(model.graph), out_channels)
    tables = dequantize_head_slices(model.graph, out_channels)
    padded = pad_input_channels(model)
    info = {"scheme": "QDQ uint8 activations per tensor, int8 weights per channel", "tensors": len(names),
            "head_outputs": "int8, one range per output channel" if per_channel else "float",
            "concats_sharing_one_range": shared, "input_channels_padded_to": padded or None, "softplus_tables": tables,
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
    with open(a.out + ".sha256.tmp", "w") as f:
        f.write(f"{digest}  {os.path.basename(a.out)}\n")
    os.replace(a.out + ".sha256.tmp", a.out + ".sha256")
    print(json.dumps(info | {"out": a.out, "bytes": os.path.getsize(a.out), "sha256": digest}))


if __name__ == "__main__":
    main()
