#!/usr/bin/env bash
# Re-evaluates the shipped reference model as it is (models/nfc-reference.onnx and .pt are not touched) with the current
# decoders and measurements, and regenerates the model card: for changes to decoding or evaluation, without training.
#   ops/model/recard.sh [EVAL_SEED] [EVAL_PATIENTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source ops/lib/common.sh
model_script_init
EVAL_SEED="${1:-777}"
EVAL_PATIENTS="${2:-8}"
MODEL=models/nfc-reference.onnx
WEIGHTS=models/nfc-reference.pt
RUN="$(realpath --relative-to=. "$NFC_LOCAL")/model-recard"   # relative: the card names it
mkdir -p "$RUN"
cp "$WEIGHTS" "$RUN/final.pt"
# What write_card.py reads from a training run, rebuilt from the shipped files.
$PY - "$WEIGHTS" "$MODEL" "$RUN" <<'PY'
import hashlib, json, os, sys
import onnx, torch
weights, model, run = sys.argv[1:]
st = torch.load(weights, map_location="cpu")
json.dump(st["config"], open(os.path.join(run, "config.json"), "w"), indent=2)
m = onnx.load(model)
inferred = onnx.shape_inference.infer_shapes(m)
outs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in inferred.graph.output}
opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
json.dump({"onnx": model, "bytes": os.path.getsize(model), "opset": opset, "outputs": outs,
           "sha256": hashlib.sha256(open(model, "rb").read()).hexdigest()}, open(os.path.join(run, "export.json"), "w"), indent=2)
PY
model_card_evaluations "$RUN" "$MODEL" "$RUN/final.pt" "$EVAL_SEED" "$EVAL_PATIENTS"
train_s=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["train_seconds"])' "${MODEL%.onnx}.train.json" 2>/dev/null || true)
$PY ops/model/write_card.py --run "$RUN" --model "$MODEL" --label "the shipped weights" ${train_s:+--train-seconds "$train_s"} \
  --source "re-evaluated by ops/model/recard.sh with the current decoders; the weights and the .onnx are the training run's"
log "model card written: models/README.md"
