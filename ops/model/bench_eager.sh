#!/usr/bin/env bash
# Eager PyTorch throughput of the reference weights on the demo study; when the C# CLI offers
# `ops/nfc bench inference`, it runs that on the same images too and prints the ORT/eager ratio.
#   ops/model/bench_eager.sh [WEIGHTS] [IMAGES] [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"  # no spinning threads on shared cores
WEIGHTS="${1:-.local/model-train/final.pt}"
IMAGES="${2:-samples/demo-study}"
LIMIT="${3:-8}"
[ -f "$WEIGHTS" ] || { echo "no weights at $WEIGHTS (train first: ops/model/train.sh)"; exit 1; }
eager_json=$(nice -n 10 /usr/bin/python3 ops/model/bench_eager.py --weights "$WEIGHTS" --images "$IMAGES" --limit "$LIMIT")
echo "$eager_json"
eager=$(printf '%s' "$eager_json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')
echo "eager: $eager images/s"
if [ -x ops/nfc ] && ops/nfc bench --help 2>/dev/null | grep -q inference; then
  ort_out=$(ops/nfc bench inference --model models/nfc-reference.onnx --images "$IMAGES" --limit "$LIMIT" 2>&1) || true
  echo "$ort_out"
  ort=$(printf '%s\n' "$ort_out" | grep -oE '[0-9]+(\.[0-9]+)? images/s' | tail -1 | cut -d' ' -f1 || true)
  if [ -n "$ort" ]; then
    /usr/bin/python3 -c "print(f'ORT/eager throughput ratio: {float($ort) / float($eager):.2f}')"
  else
    echo "could not read images/s from ops/nfc bench inference"
  fi
else
  echo "ops/nfc bench inference is not available in this checkout; eager figure only"
fi
