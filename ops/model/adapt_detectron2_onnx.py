#!/usr/bin/python3
"""Rewrites a detectron2 Mask R-CNN ONNX export (TracingAdapter, e.g. NFCMTL) into the instances/v1 contract.

detectron2's tools/deploy/export_model.py (--export-method tracing --format onnx) writes a graph whose input is one
image [3,H,W] (0-255, cfg.INPUT.FORMAT order, normalised inside the graph) and whose outputs are the fields of the
predicted Instances, flattened in sorted field order with generated names:
  pred_boxes [N,4], pred_classes [N] (0-based), pred_keypoint_heatmaps [N,K,56,56], pred_keypoints [N,K,3]
  (x, y, spatial-softmax score), pred_masks [N,1,28,28] (RoI probabilities), scores [N]
This script renames them to boxes, labels, masks, keypoints and scores (dropping the heatmaps), keeps the 8 ANFC
keypoints, gives the input a leading batch axis of 1, and writes the metadata. See docs/instances-models.md.

  /usr/bin/python3 ops/model/adapt_detectron2_onnx.py model.onnx nfcmtl.onnx \
      --classes normal,blur,hemo,abnormal --fixed 1024 768 --training-data "ANFC, NFCMTL weights"
"""
import argparse
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

KEYPOINTS = ["up", "down", "left-left", "left-right", "right-left", "right-right", "left-bottom", "right-bottom"]
DETECTRON2_FIELDS = ["pred_boxes", "pred_classes", "pred_keypoint_heatmaps", "pred_keypoints", "pred_masks", "scores"]
RENAMED = {"pred_boxes": "boxes", "pred_classes": "labels", "pred_keypoints": "keypoints", "pred_masks": "masks",
           "scores": "scores"}


def opset(model):
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def add_batch_axis(model):
    """The pipeline feeds [1,3,H,W]; detectron2's traced graph takes [3,H,W]: squeeze the new axis away."""
    graph = model.graph
    old = graph.input[0]
    dims = old.type.tensor_type.shape.dim
    if len(dims) == 4:
        return
    inner = old.name + "_unbatched"
    for node in graph.node:
        node.input[:] = [inner if name == old.name else name for name in node.input]
    shape = [1] + [d.dim_value if d.HasField("dim_value") else (d.dim_param or f"d{i}") for i, d in enumerate(dims)]
    new_input = helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)
    if opset(model) >= 13:
        graph.initializer.append(numpy_helper.from_array(np.array([0], np.int64), "batch_axis"))
        squeeze = helper.make_node("Squeeze", ["image", "batch_axis"], [inner])
    else:
        squeeze = helper.make_node("Squeeze", ["image"], [inner], axes=[0])
    graph.node.insert(0, squeeze)
    graph.input.remove(old)
    graph.input.insert(0, new_input)


def rename_outputs(model, fields, keep_keypoints):
    graph = model.graph
    if len(graph.output) != len(fields):
        raise SystemExit(f"the graph has {len(graph.output)} outputs, expected {len(fields)}: {fields} "
                         f"(pass --fields in the order of the export's outputs)")
    by_field = dict(zip(fields, list(graph.output)))
    new_outputs = []
    for field in ["pred_boxes", "scores", "pred_classes", "pred_masks", "pred_keypoints"]:
        source = by_field[field].name
        target = RENAMED[field]
        if field == "pred_keypoints" and keep_keypoints is not None:
            graph.initializer.append(numpy_helper.from_array(np.array(keep_keypoints, np.int64), "kept_keypoints"))
            graph.node.append(helper.make_node("Gather", [source, "kept_keypoints"], [source + "_anfc"], axis=1))
            source += "_anfc"
        if field == "pred_classes":
            graph.node.append(helper.make_node("Cast", [source], [source + "_int64"], to=TensorProto.INT64))
            source += "_int64"
        if source != target:
            graph.node.append(helper.make_node("Identity", [source], [target]))
        elem = TensorProto.INT64 if field == "pred_classes" else TensorProto.FLOAT
        shape = {"boxes": ["detections", 4], "scores": ["detections"], "labels": ["detections"],
                 "masks": ["detections", 1, "mask_height", "mask_width"], "keypoints": ["detections", 8, 3]}[target]
        new_outputs.append(helper.make_tensor_value_info(target, elem, shape))
    del graph.output[:]
    graph.output.extend(new_outputs)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--classes", required=True, help="comma-separated names in detectron2's class order (0-based)")
    p.add_argument("--fields", default=",".join(DETECTRON2_FIELDS),
                   help="the export's outputs in order, as Instances field names (TracingAdapter sorts them)")
    p.add_argument("--keypoint-indices", default="0,1,2,3,4,5,6,7",
                   help="the model's keypoint channels for up, down, left-left, ..., right-bottom (ANFC's 9th, X, is dropped)")
    p.add_argument("--color-order", default="BGR", help="cfg.INPUT.FORMAT")
    p.add_argument("--fixed", type=int, nargs=2, metavar=("W", "H"), help="fixed input size (traced MViT graphs)")
    p.add_argument("--short-side", type=int, default=800, help="cfg.INPUT.MIN_SIZE_TEST, when the size is not fixed")
    p.add_argument("--multiple", type=int, default=32, help="cfg size_divisibility")
    p.add_argument("--name", default="nfcmtl")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--training-data", required=True)
    args = p.parse_args()

    model = onnx.load(args.source)
    add_batch_axis(model)
    keep = [int(i) for i in args.keypoint_indices.split(",")]
    if len(keep) != len(KEYPOINTS):
        raise SystemExit("--keypoint-indices must name 8 channels")
    rename_outputs(model, args.fields.split(","), keep)
    size_policy = ({"mode": "fixed", "width": args.fixed[0], "height": args.fixed[1]} if args.fixed
                   else {"mode": "short_side", "short_side": args.short_side, "multiple": args.multiple})
    meta = {
        "nfc.contract": "instances/v1",
        "nfc.model_name": args.name,
        "nfc.model_version": args.version,
        "nfc.classes": json.dumps(args.classes.split(",")),
        "nfc.keypoints": json.dumps(KEYPOINTS),
        "nfc.label_offset": "0",
        "nfc.keypoint_score": "probability",
        # detectron2 normalises inside the graph (cfg.MODEL.PIXEL_MEAN/STD on 0-255 values): feed raw values.
        "nfc.input.color_order": args.color_order,
        "nfc.input.scale": "1",
        "nfc.input.mean": "[0,0,0]",
        "nfc.input.std": "[1,1,1]",
        "nfc.size_policy": json.dumps(size_policy),
        "nfc.training_data": args.training_data,
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    onnx.save(model, args.target)
    print(f"wrote {args.target}")


if __name__ == "__main__":
    main()
