#!/usr/bin/env bash
# Trains the reference model on the CPU (2 threads), then exports, evaluates and writes the model card.
# Resumable: rerunning continues from the last checkpoint in $NFC_TRAIN_OUT. Settings come from the
# environment; the defaults are the full run (60-75 minutes on this project's 2-core hosts, 66 for the last).
set -euo pipefail
NFC_CALLER_PWD="${NFC_CALLER_PWD:-$PWD}"   # paths given are relative to where the script was run
cd "$(dirname "$0")/../.."
source ops/lib/common.sh
OUT="$(caller_path "${NFC_TRAIN_OUT:-$NFC_ROOT/.local/model-train}")"
SEED="${NFC_SEED:-20261122}"
STEPS="${NFC_TRAIN_STEPS:-8000}"
FIELDS="${NFC_CACHE_FIELDS:-320}"
MAX_MIN="${NFC_MAX_MINUTES:-80}"
CKPT_MIN="${NFC_CKPT_MINUTES:-3}"
PRECISION="${NFC_PRECISION:-auto}"
LR="${NFC_LR:-3e-3}"
INIT_FROM="${NFC_INIT_FROM:+$(caller_path "$NFC_INIT_FROM")}"
EVAL_SEED="${NFC_EVAL_SEED:-777}"
EVAL_PATIENTS="${NFC_EVAL_PATIENTS:-8}"
MODEL="$(caller_path "${NFC_MODEL_OUT:-$NFC_ROOT/models/nfc-reference.onnx}")"
model_card_folder_check "$MODEL"   # before the training, not after it
model_script_init
LABEL="${NFC_RUN_LABEL:-full run}"
run_folder_lock "$OUT"
echo "[train.sh] $(date -u +%FT%TZ) out=$OUT seed=$SEED steps=$STEPS fields=$FIELDS max_minutes=$MAX_MIN precision=$PRECISION lr=$LR${INIT_FROM:+ init_from=$INIT_FROM}"
start=$(date +%s)
$PY ops/model/train.py --out "$OUT" --seed "$SEED" --steps "$STEPS" --cache-fields "$FIELDS" \
  --max-minutes "$MAX_MIN" --checkpoint-minutes "$CKPT_MIN" --threads 2 --precision "$PRECISION" \
  --lr "$LR" ${INIT_FROM:+--init-from "$INIT_FROM"} --resume
train_s=$(( $(date +%s) - start ))
# A resumed run trained over several sessions: this one's wall time is only the last (final.pt keeps the sum).
loop_s=$($PY -c 'import sys, torch; print(int(torch.load(sys.argv[1], map_location="cpu").get("train_seconds", 0)))' "$OUT/final.pt" 2>/dev/null || echo 0)
if [ "$loop_s" -gt "$train_s" ]; then train_s=$loop_s; fi
NFC_CALLER_PWD="$PWD" NFC_MODEL_VERSION="${NFC_MODEL_VERSION:-1.0.0}" ops/model/finish.sh "$OUT" "$MODEL" "$EVAL_SEED" "$EVAL_PATIENTS" "$LABEL" "$train_s"
