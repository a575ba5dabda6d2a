#!/usr/bin/python3
"""Writes tests/fixtures/onnx/instances_batched.onnx: a hand-built instances/v1 graph with a dynamic batch and a
batch_index output, so the engine's batched instances path is tested with known answers.

Per image n, with r = mean of its normalised red channel (scale 1/255, mean 0, std 1, so r is in [0, 1]), two
detections:
  A: box [8, 8, 40, 56] + 16 r, score 0.6 + 0.3 r, label 1 + (r < 0.5), keypoints (20 + 16 r, 30, 0)
  B: box [60, 10, 90, 50],      score 0.55,          label 3,            keypoints (70, 20, 0)
The outputs list every A first, then every B, so only batch_index says which image a detection belongs to.
Masks are 4×4 RoI masks of 0.9. Run: /usr/bin/python3 ops/model/make_instances_batched_fixture.py
"""
import json

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from make_test_fixtures import opset, save

OUT = "instances_batched.onnx"
# The same graph without its masks output: a model the engine must refuse.
BROKEN = "instances_no_masks.onnx"


def main():
    consts = {
        "box_base": [[8, 8, 40, 56]], "box_gain": [[16, 16, 16, 16]], "box_b": [[60, 10, 90, 50]],
        "score_base": [0.6], "score_gain": [0.3], "score_b": [0.55], "half": [0.5],
        "mask": np.full((1, 1, 4, 4), 0.9), "kp_a": np.tile([[[20.0, 30.0, 0.0]]], (1, 8, 1)),
        "kp_gain": np.tile([[[16.0, 0.0, 0.0]]], (1, 8, 1)), "kp_b": np.tile([[[70.0, 20.0, 0.0]]], (1, 8, 1)),
    }
    inits = [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in consts.items()]
    ints = {"one": [1], "zero": [0], "three": [3], "start": [0], "step": [1], "mask_tail": [1, 4, 4], "kp_tail": [8, 3],
            "four": [4], "axes_1": [1]}
    inits += [numpy_helper.from_array(np.asarray(v, np.int64), k) for k, v in ints.items()]
    n = helper.make_node
    nodes = [
        n("Slice", ["image", "zero", "one", "axes_1"], ["red"]),                 # [N,1,H,W]
        n("ReduceMean", ["red"], ["r"], axes=[1, 2, 3], keepdims=0),             # [N]
        n("Unsqueeze", ["r", "axes_1"], ["r_col"]),                              # [N,1]
        n("Mul", ["r_col", "box_gain"], ["box_shift"]),
        n("Add", ["box_shift", "box_base"], ["boxes_a"]),                        # [N,4]
        n("Shape", ["image"], ["image_shape"]),
        n("Slice", ["image_shape", "zero", "one", "zero"], ["batch"]),           # [1]
        n("Concat", ["batch", "four"], ["box_shape"], axis=0),
        n("Expand", ["box_b", "box_shape"], ["boxes_b"]),
        n("Concat", ["boxes_a", "boxes_b"], ["boxes"], axis=0),
        n("Mul", ["r", "score_gain"], ["score_shift"]),
        n("Add", ["score_shift", "score_base"], ["scores_a"]),
        n("Expand", ["score_b", "batch"], ["scores_b"]),
        n("Concat", ["scores_a", "scores_b"], ["scores"], axis=0),
        n("Less", ["r", "half"], ["dark"]),
        n("Cast", ["dark"], ["dark_i"], to=TensorProto.INT64),
        n("Add", ["dark_i", "one"], ["labels_a"]),
        n("Expand", ["three", "batch"], ["labels_b"]),
        n("Concat", ["labels_a", "labels_b"], ["labels"], axis=0),
        n("Squeeze", ["batch", "zero"], ["batch_scalar"]),
        n("Squeeze", ["start", "zero"], ["start_scalar"]),
        n("Squeeze", ["step", "zero"], ["step_scalar"]),
        n("Range", ["start_scalar", "batch_scalar", "step_scalar"], ["image_ids"]),
        n("Concat", ["image_ids", "image_ids"], ["batch_index"], axis=0),
        n("Concat", ["batch", "batch"], ["two_batches"], axis=0),
        n("ReduceSum", ["two_batches"], ["detections"], keepdims=1),
        n("Concat", ["detections", "mask_tail"], ["mask_shape"], axis=0),
        n("Expand", ["mask", "mask_shape"], ["masks"]),
        n("Unsqueeze", ["r_col", "axes_1"], ["r_cube"]),                         # [N,1,1]
        n("Mul", ["r_cube", "kp_gain"], ["kp_shift"]),
        n("Add", ["kp_shift", "kp_a"], ["keypoints_a"]),
        n("Concat", ["batch", "kp_tail"], ["kp_shape"], axis=0),
        n("Expand", ["kp_b", "kp_shape"], ["keypoints_b"]),
        n("Concat", ["keypoints_a", "keypoints_b"], ["keypoints"], axis=0),
    ]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    outputs = [helper.make_tensor_value_info(name, dtype, shape) for name, dtype, shape in [
        ("boxes", TensorProto.FLOAT, ["D", 4]), ("scores", TensorProto.FLOAT, ["D"]), ("labels", TensorProto.INT64, ["D"]),
        ("masks", TensorProto.FLOAT, ["D", 1, 4, 4]), ("keypoints", TensorProto.FLOAT, ["D", 8, 3]),
        ("batch_index", TensorProto.INT64, ["D"])]]
    graph = helper.make_graph(nodes, "instances_batched", [image], outputs, inits)
    model = helper.make_model(graph, opset_imports=opset(), producer_name="nfcpipeline-tests")
    meta = {
        "nfc.contract": "instances/v1",
        "nfc.model_name": "instances-batched-fixture",
        "nfc.model_version": "1.0.0",
        "nfc.classes": json.dumps(["normal", "abnormal", "hemo"]),
        "nfc.keypoints": json.dumps(["up", "down", "left-left", "left-right", "right-left", "right-right",
                                     "left-bottom", "right-bottom"]),
        "nfc.label_offset": "1",
        "nfc.input.color_order": "RGB",
        "nfc.input.scale": str(1 / 255),
        "nfc.input.mean": "[0,0,0]",
        "nfc.input.std": "[1,1,1]",
        "nfc.size_policy": json.dumps({"mode": "short_side", "short_side": 0, "multiple": 32}),
        "nfc.training_data": "none: fixed graph for tests",
    }
    save(model, OUT, meta)
    model.graph.output.remove(next(o for o in model.graph.output if o.name == "masks"))
    save(model, BROKEN)


if __name__ == "__main__":
    main()
