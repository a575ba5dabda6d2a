#!/usr/bin/env bash
# ONNX Runtime against eager PyTorch on the same weights (models/nfc-reference.pt is what the .onnx was exported
# from) and the same images, batch 1, 2 threads each. Rounds alternate eager, ORT, eager, ORT, ...; each round's
# ratio is ORT images/s over the mean of the eager rounds on either side of it (median and range reported), and
# the headline ratio compares each engine's fastest round, the figure host noise disturbs least.
#   ops/model/bench_eager.sh [WEIGHTS] [IMAGES] [LIMIT] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source ops/lib/common.sh
model_script_init
WEIGHTS="${1:-models/nfc-reference.pt}"
IMAGES="${2:-samples/demo-study}"
LIMIT="${3:-8}"
ROUNDS="${4:-3}"
[ -f "$WEIGHTS" ] || { echo "no weights at $WEIGHTS (train first: ops/model/train.sh)"; exit 1; }

eager_round() {
  local json
  # torch_cpu_env keeps eager's activations in the heap (ORT has its own CPU arena): without it eager ran 0.5-1.5
  # images/s here, bimodally, from page faults; with it 2.0-2.8, the fair opponent.
  json=$(/usr/bin/python3 ops/model/bench_eager.py --weights "$WEIGHTS" --images "$IMAGES" --limit "$LIMIT")
  echo "$json" >&2
  printf '%s' "$json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}

ort_round() {
  local out
  out=$(ops/nfc bench inference --model models/nfc-reference.onnx --source "$IMAGES" --images "$LIMIT" --batch 1 --rounds 1 2>&1) \
    || { echo "$out" >&2; die "ops/nfc bench inference failed"; }
  printf '%s\n' "$out" | grep -E '^(ort|pipeline)_images_per_s=' >&2 || true
  printf '%s\n' "$out" | sed -n 's/^ort_images_per_s=//p' | tail -1
}

eager=("$(eager_round)")
ort=()
for ((r = 1; r <= ROUNDS; r++)); do
  ort+=("$(ort_round)")
  eager+=("$(eager_round)")
done
/usr/bin/python3 - "${#eager[@]}" "${eager[@]}" "${ort[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
eager, ort = [float(v) for v in sys.argv[2:2 + n]], [float(v) for v in sys.argv[2 + n:]]
ratios = [o / ((eager[i] + eager[i + 1]) / 2) for i, o in enumerate(ort)]
print("eager_images_per_s=" + " ".join(f"{v:.3f}" for v in eager))
print("ort_images_per_s=" + " ".join(f"{v:.3f}" for v in ort))
for i, r in enumerate(ratios, 1):
    print(f"round {i}: ORT/eager {r:.2f}")
print(f"ORT/eager per-round ratio: median {statistics.median(ratios):.2f} of {len(ratios)} rounds, "
      f"range {min(ratios):.2f}-{max(ratios):.2f}")
# Each engine's fastest round: the figure a noisy host disturbs least.
print(f"ORT/eager throughput ratio: {max(ort) / max(eager):.2f} (fastest round of each: ORT {max(ort):.2f}, "
      f"eager {max(eager):.2f} images/s)")
PY
