#!/usr/bin/env bash
# Export + held-out evaluation + model card for a finished (or stopped) training run:
#   ops/model/finish.sh [OUT] [MODEL] [EVAL_SEED] [EVAL_PATIENTS] [LABEL] [TRAIN_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source ops/lib/common.sh
model_script_init
OUT="${1:-.local/model-train}"
MODEL="${2:-models/nfc-reference.onnx}"
EVAL_SEED="${3:-777}"
EVAL_PATIENTS="${4:-8}"
LABEL="${5:-full run}"
TRAIN_S="${6:-}"
WEIGHTS="$OUT/final.pt"
[ -f "$WEIGHTS" ] || { echo "no $WEIGHTS: training has not finished (rerun ops/model/train.sh to resume)"; exit 1; }
$PY ops/model/export.py --weights "$WEIGHTS" --out "$MODEL" --version "${NFC_MODEL_VERSION:-1.0.0}" | tee "$OUT/export.json"
echo "[finish.sh] $(date -u +%FT%TZ) exported $MODEL (+ .sha256)"
# The int8 variant is calibrated by the native ONNX Runtime, so it is put in place first. It is made from an export at
# the trained widths: the zero channels that help ORT's float kernels would be real work for its int8 ones.
"$NFC_ROOT/ops/native.sh"
$PY ops/model/export.py --weights "$WEIGHTS" --out "$OUT/trained-widths.onnx" --version "${NFC_MODEL_VERSION:-1.0.0}" \
  --channel-multiple 1 > "$OUT/export-trained-widths.json"
$PY ops/model/quantize.py --onnx "$OUT/trained-widths.onnx" --out "${MODEL%.onnx}.int8.onnx" \
  --lib "$NFC_LOCAL/native/libonnxruntime.so.1" | tee "$OUT/quantize.json"
model_card_evaluations "$OUT" "$MODEL" "$WEIGHTS" "$EVAL_SEED" "$EVAL_PATIENTS"
# The exported weights beside the model, for the eager benchmark (ops/model/bench_eager.sh).
$PY - "$WEIGHTS" "${MODEL%.onnx}.pt" <<'PY'
import hashlib, os, sys, torch
st = torch.load(sys.argv[1], map_location="cpu")
kept = {k: st[k] for k in ("model", "step", "config", "stopped_early", "log_vars") if k in st}
kept["model"] = st.get("ema", st["model"])   # a checkpoint copied as final.pt: its average, as export.py exports
# Written aside and renamed: the tracked weights must never be left half written.
torch.save(kept, sys.argv[2] + ".tmp")
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
with open(sys.argv[2] + ".sha256.tmp", "w") as f:
    f.write(hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest() + "\n")
os.replace(sys.argv[2] + ".sha256.tmp", sys.argv[2] + ".sha256")
PY
# The training wall time beside the model, so ops/model/recard.sh can regenerate the card without the run folder.
[ -n "$TRAIN_S" ] && "$PY" -c 'import json, sys; print(json.dumps({"train_seconds": int(sys.argv[1]), "label": sys.argv[2]}))' "$TRAIN_S" "$LABEL" > "${MODEL%.onnx}.train.json"
$PY ops/model/write_card.py --run "$OUT" --model "$MODEL" --label "$LABEL" ${TRAIN_S:+--train-seconds "$TRAIN_S"}
echo "[finish.sh] $(date -u +%FT%TZ) model card written"
