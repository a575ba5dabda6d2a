#!/usr/bin/python3
"""Writes the small ONNX models that the ONNX Runtime binding tests load (tests/fixtures/onnx/).

Run with Debian's interpreter, which has python3-onnx:  /usr/bin/python3 ops/model/make_test_fixtures.py
The outputs are committed, so the C# tests never need Python. Opset 13 and IR version 7 keep them loadable by
ONNX Runtime 1.23 and by older releases alike.
"""
import os
import sys

import onnx
from onnx import TensorProto, helper

OPSET = 13
IR_VERSION = 7
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "onnx")


def save(model, name, metadata=None, external_data=None):
    """Checks `model` and writes it as tests/fixtures/onnx/NAME, with its metadata (key -> string) if any; with
    `external_data` (a file name beside it), every initializer's bytes go to that file, as large exports do."""
    model.ir_version = IR_VERSION
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    path = os.path.join(OUT_DIR, name)
    if external_data:
        if os.path.exists(os.path.join(OUT_DIR, external_data)):
            os.remove(os.path.join(OUT_DIR, external_data))  # onnx appends to it
        onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=external_data,
                  size_threshold=0)
    else:
        onnx.save(model, path)
    print(f"wrote {path}")


def opset():
    return [helper.make_opsetid("", OPSET)]


def add_mul():
    """sum = a + b and product = a * b over float [batch, 3], with metadata to inspect."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3])
    total = helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 3])
    product = helper.make_tensor_value_info("product", TensorProto.FLOAT, ["batch", 3])
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Mul", ["a", "b"], ["product"])],
        "add_mul", [a, b], [total, product], doc_string="Adds and multiplies two float tensors.")
    model = helper.make_model(graph, opset_imports=opset(), producer_name="nfc-test-fixtures",
                              producer_version="1.0", domain="org.nfcpipeline.test", model_version=3,
                              doc_string="Fixture for the ONNX Runtime binding tests.")
    helper.set_model_props(model, {"nfc.contract": "test/v1", "nfc.model_name": "add-mul", "nfc.note": "µm"})
    save(model, "add_mul.onnx")


def mixed_types():
    """Element types beyond float: int64, uint8, int32 and bool, each with an output that proves it was read."""
    inputs = [
        helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"]),
        helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["n"]),
        helper.make_tensor_value_info("counts", TensorProto.INT32, ["n"]),
        helper.make_tensor_value_info("flags", TensorProto.BOOL, ["n"]),
    ]
    outputs = [
        helper.make_tensor_value_info("ids_doubled", TensorProto.INT64, ["n"]),
        helper.make_tensor_value_info("pixels_float", TensorProto.FLOAT, ["n"]),
        helper.make_tensor_value_info("pixels_copy", TensorProto.UINT8, ["n"]),
        helper.make_tensor_value_info("counts_doubled", TensorProto.INT32, ["n"]),
        helper.make_tensor_value_info("flags_negated", TensorProto.BOOL, ["n"]),
    ]
    nodes = [
        helper.make_node("Add", ["ids", "ids"], ["ids_doubled"]),
        helper.make_node("Cast", ["pixels"], ["pixels_float"], to=TensorProto.FLOAT),
        helper.make_node("Identity", ["pixels"], ["pixels_copy"]),
        helper.make_node("Add", ["counts", "counts"], ["counts_doubled"]),
        helper.make_node("Not", ["flags"], ["flags_negated"]),
    ]
    graph = helper.make_graph(nodes, "mixed_types", inputs, outputs)
    save(helper.make_model(graph, opset_imports=opset(), producer_name="nfc-test-fixtures"), "mixed_types.onnx")


def conv():
    """A 3x3 convolution, 3 channels in and 2 out, with dynamic N, H and W, followed by Relu.

    Output channel 0 is the mean of the 3x3x3 neighbourhood (zero padded); channel 1 is input channel 0 plus 0.5.
    """
    weights = [0.0] * (2 * 3 * 3 * 3)
    for c in range(3):
        for k in range(9):
            weights[c * 9 + k] = 1.0 / 27.0
    weights[27 + 4] = 1.0  # output 1, input channel 0, centre tap
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 3, 3, 3], weights)
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [2], [0.0, 0.5])
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    features = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 2, "H", "W"])
    nodes = [
        helper.make_node("Conv", ["image", "w", "bias"], ["conv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["features"]),
    ]
    graph = helper.make_graph(nodes, "conv", [image], [features], initializer=[w, bias])
    save(helper.make_model(graph, opset_imports=opset(), producer_name="nfc-test-fixtures"), "conv.onnx")


def passthrough():
    """Its input listed as an output beside a node's (Relu): ORT hands the caller's own buffer back for the first."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "passthrough", [x], [x, y])
    save(helper.make_model(graph, opset_imports=opset(), producer_name="nfc-test-fixtures"), "passthrough.onnx")


def corrupt():
    """Bytes that are not a protobuf model: loading them must fail with a clear error."""
    path = os.path.join(OUT_DIR, "corrupt.onnx")
    with open(path, "wb") as f:
        f.write(b"this is not an ONNX model\x00\xff\xfe" * 4)
    print(f"wrote {path}")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    add_mul()
    mixed_types()
    conv()
    passthrough()
    corrupt()
    return 0


if __name__ == "__main__":
    sys.exit(main())
