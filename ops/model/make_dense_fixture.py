#!/usr/bin/python3
"""Writes tests/fixtures/onnx/dense_colour.onnx: a tiny dense/v1 model whose maps are simple functions of colour.

It lets the engine tests know the exact answer without a trained network. Input RGB is normalised to [-1, 1]
(mean 0.5, std 0.5) and average-pooled to stride 2; then, per cell:
  capillary = sigmoid(8 R)        red marks capillary
  center    = sigmoid(12 G - 6)   a green dot marks an instance centre
  offset    = 0                   every cell votes for itself, so it joins the nearest centre
  keypoints = sigmoid(12 B - 6)   blue dots; all 8 channels see the same map
  radius    = relu(3 R)
  class_logits = [4 R, 4 G, 4 B]
It also writes dense_white_nan.onnx: the same, except that its radius map is NaN wherever a cell is white
(R + G + B above 2.9 after normalisation), as a model that breaks on some inputs would be; the NaN comes from
0 × sqrt(2.9 − R − G − B), so every other cell is exactly dense_colour's; and two exports the loader refuses:
dense_fixed_batch4.onnx (batch fixed at 4), dense_int64_output.onnx (an extra int64 output), dense_fixed_height.onnx
(H fixed at 192, W dynamic), dense_float16_output.onnx (an extra float16 output) and
dense_classes_mismatch.onnx (four classes named for three class_logits channels);
dense_colour_external.onnx: dense_colour with its weights in dense_colour_external.onnx.data; and
dense_batch_one_only.onnx: dense_colour whose run fails in ONNX Runtime for a batch of more than one image (a
Squeeze of the batch axis), as a batch that runs out of memory where each image alone would not; and
dense_output_batch_one.onnx: the same graph whose outputs declare a batch of 1 (a head traced at batch 1) while its
input's batch is dynamic: the loader runs it one image at a time.
Run: /usr/bin/python3 ops/model/make_dense_fixture.py  (the outputs are committed; tests need no Python)
"""
import json

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from make_test_fixtures import opset, save

OUT = "dense_colour.onnx"  # under tests/fixtures/onnx/
OUT_NAN = "dense_white_nan.onnx"


def conv1x1(name, source, weights, bias):
    """A 1×1 convolution with fixed weights [out, in] and bias [out]."""
    w = numpy_helper.from_array(np.asarray(weights, np.float32).reshape(len(weights), 3, 1, 1), name + "_w")
    b = numpy_helper.from_array(np.asarray(bias, np.float32), name + "_b")
    return [w, b], helper.make_node("Conv", [source, name + "_w", name + "_b"], [name + "_lin"])


def main():
    build(OUT, white_nan=False)
    build(OUT_NAN, white_nan=True)
    # Exports the loader must refuse, naming why: a batch fixed above 1, and an output that is not float32.
    build("dense_fixed_batch4.onnx", white_nan=False, batch=4)
    build("dense_int64_output.onnx", white_nan=False, extra_int64=True)
    build("dense_batch_one_only.onnx", white_nan=False, batch_one_only=True)
    build("dense_output_batch_one.onnx", white_nan=False, batch_one_only=True, output_batch=1)
    # Its metadata names four classes for three class_logits channels: refused at load, not image by image.
    build("dense_classes_mismatch.onnx", white_nan=False, classes=["hairpin", "tortuous", "blur", "giant"])
    # One fixed spatial side (H 192, W dynamic) under a short_side policy: portrait images would fail in every run.
    build("dense_fixed_height.onnx", white_nan=False, height=192)
    # A float16 output (a GPU export after model.half()): named by its element type, which has no CLR type here.
    build("dense_float16_output.onnx", white_nan=False, extra_float16=True)
    # dense_colour with its weights in dense_colour_external.onnx.data, as exports over 2 GB must be: the model's
    # identity must cover that file too.
    build("dense_colour_external.onnx", white_nan=False, external_data="dense_colour_external.onnx.data")


def build(out, white_nan, batch="N", extra_int64=False, batch_one_only=False, classes=("hairpin", "tortuous", "blur"),
          height="H", extra_float16=False, external_data=None, output_batch="N"):
    dims = [batch, 3, height, "W"]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)
    nodes, inits, source = [], [], "image"
    if batch_one_only:
        # A Reshape to [1, C, H, W] from the input's own shape: the graph's shapes do not tell it fixes the batch (a
        # Squeeze and Unsqueeze of the batch axis did, and the loader then ran it one image at a time), so a batch
        # of more than one fails only at run time.
        inits += [numpy_helper.from_array(np.ones((1,), np.int64), "one"),
                  numpy_helper.from_array(np.array([1], np.int64), "from_axis"),
                  numpy_helper.from_array(np.array([4], np.int64), "to_axis")]
        nodes += [helper.make_node("Shape", ["image"], ["image_shape"]),
                  helper.make_node("Slice", ["image_shape", "from_axis", "to_axis"], ["image_chw"]),
                  helper.make_node("Concat", ["one", "image_chw"], ["batch_one_shape"], axis=0),
                  helper.make_node("Reshape", ["image", "batch_one_shape"], ["image_batch_one"])]
        source = "image_batch_one"
    nodes.append(helper.make_node("AveragePool", [source], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]))
    heads = {
        "capillary": ([[8, 0, 0]], [0], "Sigmoid"),
        "center": ([[0, 12, 0]], [-6], "Sigmoid"),
        "offset": ([[0, 0, 0], [0, 0, 0]], [0, 0], None),
        "keypoints": ([[0, 0, 12]] * 8, [-6] * 8, "Sigmoid"),
        "radius": ([[3, 0, 0]], [0], "Relu"),
        "class_logits": ([[4, 0, 0], [0, 4, 0], [0, 0, 4]], [0, 0, 0], None),
    }
    outputs = []
    for name, (weights, bias, activation) in heads.items():
        w, node = conv1x1(name, "pooled", weights, bias)
        inits += w
        nodes.append(node)
        if white_nan and name == "radius":
            w, white = conv1x1("white", "pooled", [[-1, -1, -1]], [2.9])
            zero = numpy_helper.from_array(np.zeros((1,), np.float32), "zero")
            inits += w + [zero]
            nodes += [white,
                      helper.make_node("Sqrt", ["white_lin"], ["white_sqrt"]),
                      helper.make_node("Mul", ["white_sqrt", "zero"], ["white_nan"]),
                      helper.make_node(activation, [name + "_lin"], [name + "_act"]),
                      helper.make_node("Add", [name + "_act", "white_nan"], [name])]
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [output_batch, len(weights), "h", "w"]))
            continue
        nodes.append(helper.make_node(activation or "Identity", [name + "_lin"], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [output_batch, len(weights), "h", "w"]))
    if extra_int64:
        nodes.append(helper.make_node("Shape", ["image"], ["input_shape"]))
        outputs.append(helper.make_tensor_value_info("input_shape", TensorProto.INT64, [4]))
    if extra_float16:
        nodes.append(helper.make_node("Cast", ["pooled"], ["pooled_half"], to=TensorProto.FLOAT16))
        outputs.append(helper.make_tensor_value_info("pooled_half", TensorProto.FLOAT16, ["N", 3, "h", "w"]))
    graph = helper.make_graph(nodes, out.removesuffix(".onnx"), [image], outputs, inits)
    model = helper.make_model(graph, opset_imports=opset(), producer_name="nfcpipeline-tests")
    meta = {
        "nfc.contract": "dense/v1",
        "nfc.model_name": "dense-colour-fixture",
        "nfc.model_version": "1.0.0",
        "nfc.classes": json.dumps(list(classes)),
        "nfc.keypoints": json.dumps(["up", "down", "left-left", "left-right", "right-left", "right-right",
                                     "left-bottom", "right-bottom"]),
        "nfc.input.color_order": "RGB",
        "nfc.input.scale": str(1 / 255),
        "nfc.input.mean": "[0.5,0.5,0.5]",
        "nfc.input.std": "[0.5,0.5,0.5]",
        "nfc.size_policy": json.dumps({"mode": "short_side", "short_side": 0, "multiple": 32}),
        "nfc.stride": "2",
        "nfc.training_data": "none: fixed weights for tests",
    }
    if white_nan:
        meta["nfc.model_name"] = "dense-white-nan-fixture"
    if batch_one_only:
        meta["nfc.model_name"] = "dense-batch-one-only-fixture"
    save(model, out, meta, external_data)


if __name__ == "__main__":
    main()
