#!/usr/bin/env bash
# Export + held-out evaluation + model card for a finished (or stopped) training run:
#   ops/model/finish.sh [OUT] [MODEL] [EVAL_SEED] [EVAL_PATIENTS] [LABEL] [TRAIN_SECONDS]
# Everything is made in OUT/staged and moved beside MODEL only once every step has succeeded, so a failed step leaves
# the previous model, its int8 variant, weights and card (README.md beside MODEL) as they were. Each file is then
# renamed into place (atomic per file where OUT and MODEL share a filesystem, as .local and models/ do).
set -euo pipefail
NFC_CALLER_PWD="${NFC_CALLER_PWD:-$PWD}"   # paths given are relative to where the script was run
cd "$(dirname "$0")/../.."
source ops/lib/common.sh
OUT="$(caller_path "${1:-$NFC_ROOT/.local/model-train}")"
MODEL="$(caller_path "${2:-$NFC_ROOT/models/nfc-reference.onnx}")"
EVAL_SEED="${3:-777}"
EVAL_PATIENTS="${4:-8}"
LABEL="${5:-full run}"
TRAIN_S="${6:-}"
WEIGHTS="$OUT/final.pt"
model_card_folder_check "$MODEL"
run_folder_lock "$OUT"
[ -f "$WEIGHTS" ] || { echo "no $WEIGHTS: training has not finished (rerun ops/model/train.sh to resume)"; exit 1; }
model_script_init
STAGE="$OUT/staged"
rm -rf "$STAGE" && mkdir -p "$STAGE"
STAGED="$STAGE/$(basename "$MODEL")"
# Run by hand, finish.sh gets no wall time: the one the training loop kept in final.pt (0 when unknown).
[ -n "$TRAIN_S" ] || TRAIN_S=$($PY -c 'import sys, torch; print(int(torch.load(sys.argv[1], map_location="cpu").get("train_seconds", 0)))' "$WEIGHTS" 2>/dev/null || echo 0)
[ "$TRAIN_S" != 0 ] || TRAIN_S=""
$PY ops/model/export.py --weights "$WEIGHTS" --out "$STAGED" --version "${NFC_MODEL_VERSION:-1.0.0}" | tee "$OUT/export.json"
echo "[finish.sh] $(date -u +%FT%TZ) exported $STAGED (+ .sha256)"
# The int8 variant is calibrated by the native ONNX Runtime. It is made from an export at the trained widths: the zero
# channels that help ORT's float kernels would be real work for its int8 ones.
"$NFC_ROOT/ops/native.sh"
$PY ops/model/export.py --weights "$WEIGHTS" --out "$OUT/trained-widths.onnx" --version "${NFC_MODEL_VERSION:-1.0.0}" \
  --channel-multiple 1 > "$OUT/export-trained-widths.json"
$PY ops/model/quantize.py --onnx "$OUT/trained-widths.onnx" --out "${STAGED%.onnx}.int8.onnx" \
  --lib "$NFC_LOCAL/native/libonnxruntime.so.1" | tee "$OUT/quantize.json"
model_card_evaluations "$OUT" "$STAGED" "$WEIGHTS" "$EVAL_SEED" "$EVAL_PATIENTS"
# The exported weights beside the model, for the eager benchmark (ops/model/bench_eager.sh).
$PY - "$WEIGHTS" "${STAGED%.onnx}.pt" <<'PY'
import hashlib, sys, torch
sys.path.insert(0, "ops/model")
from train import kept_weights   # a checkpoint copied as final.pt: its average, task weights and unfinished schedule
torch.save(kept_weights(torch.load(sys.argv[1], map_location="cpu")), sys.argv[2])
import os
with open(sys.argv[2] + ".sha256", "w") as f:   # as export.py's: "digest  name", which sha256sum -c reads
    f.write(hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest() + "  " + os.path.basename(sys.argv[2]) + "\n")
PY
# The training wall time beside the model, so ops/model/recard.sh can regenerate the card without the run folder.
[ -n "$TRAIN_S" ] && "$PY" -c 'import json, sys; print(json.dumps({"train_seconds": int(sys.argv[1]), "label": sys.argv[2]}))' \
  "$TRAIN_S" "$LABEL" > "${STAGED%.onnx}.train.json"
$PY ops/model/write_card.py --run "$OUT" --model "$STAGED" --card "$STAGE/README.md" --label "$LABEL" ${TRAIN_S:+--train-seconds "$TRAIN_S"}
# Into place: each file renamed over its old one (the card last), and a wall time of an earlier run removed.
DEST="$(dirname "$MODEL")"
mkdir -p "$DEST"
stem="$(basename "${MODEL%.onnx}")"
for f in .onnx .onnx.sha256 .int8.onnx .int8.onnx.sha256 .pt .pt.sha256 .train.json; do
  if [ -f "$STAGE/$stem$f" ]; then mv -f "$STAGE/$stem$f" "$DEST/$stem$f"; else rm -f "$DEST/$stem$f"; fi
done
mv -f "$STAGE/README.md" "$DEST/README.md"
rmdir "$STAGE"
echo "[finish.sh] $(date -u +%FT%TZ) $MODEL, its int8 variant, weights and model card ($DEST/README.md) in place"
