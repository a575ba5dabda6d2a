#!/usr/bin/env bash
# Eager PyTorch throughput of the reference weights (models/nfc-reference.pt, the same weights as the .onnx) on
# the demo study, then `ops/nfc bench inference` on the same images in the same run, and the ORT/eager ratio.
#   ops/model/bench_eager.sh [WEIGHTS] [IMAGES] [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"  # no spinning threads on shared cores
source ops/lib/common.sh
python_tooling_ensure
WEIGHTS="${1:-models/nfc-reference.pt}"
IMAGES="${2:-samples/demo-study}"
LIMIT="${3:-8}"
[ -f "$WEIGHTS" ] || { echo "no weights at $WEIGHTS (train first: ops/model/train.sh)"; exit 1; }
eager_json=$(nice -n 10 /usr/bin/python3 ops/model/bench_eager.py --weights "$WEIGHTS" --images "$IMAGES" --limit "$LIMIT")
echo "$eager_json"
eager=$(printf '%s' "$eager_json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')
echo "eager: $eager images/s"
if [ -x ops/nfc ] && ops/nfc bench --help 2>/dev/null | grep -q inference; then
  ort_out=$(ops/nfc bench inference --model models/nfc-reference.onnx --source "$IMAGES" --images "$LIMIT" --batch 1 --rounds 2 2>&1) || true
  echo "$ort_out"
  ort=$(printf '%s\n' "$ort_out" | sed -n 's/^ort_images_per_s=//p' | tail -1)
  if [ -n "$ort" ]; then
    /usr/bin/python3 -c "print(f'ORT/eager throughput ratio: {float($ort) / float($eager):.2f}')"
  else
    echo "could not read images/s from ops/nfc bench inference"
  fi
else
  echo "ops/nfc bench inference is not available in this checkout; eager figure only"
fi
