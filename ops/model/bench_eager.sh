#!/usr/bin/env bash
# ONNX Runtime against eager PyTorch on the same weights (models/nfc-reference.pt is what the .onnx was exported
# from) and the same images, batch 1, two threads each (ORT as two runs of one thread at once, its CPU default on 2
# cores; eager at its fastest of the layouts and stream counts below); the int8 variant (ops/model/quantize.py, made from the same weights)
# is timed beside the float model. Rounds go eager, ORT float, ORT int8, eager, ...; each ORT round's ratio is its
# images/s over the mean of the eager rounds on either side of it (median and range reported), and the headline
# ratios compare each engine's fastest round, the figure host noise disturbs least.
# Both time ready input tensors: decoding and preprocessing are outside the clock on both sides.
#   ops/model/bench_eager.sh [WEIGHTS] [IMAGES] [LIMIT] [ROUNDS] [BATCH]
set -euo pipefail
NFC_CALLER_PWD="${NFC_CALLER_PWD:-$PWD}"   # paths given are relative to where the script was run
cd "$(dirname "$0")/../.."
source ops/lib/common.sh
model_script_init
WEIGHTS="$(caller_path "${1:-$NFC_ROOT/models/nfc-reference.pt}")"
IMAGES="$(caller_path "${2:-$NFC_ROOT/samples/demo-study}")"
LIMIT="${3:-8}"
ROUNDS="${4:-3}"
BATCH="${5:-1}"
FLOAT_MODEL=models/nfc-reference.onnx
INT8_MODEL=models/nfc-reference.int8.onnx
[ -f "$WEIGHTS" ] || { echo "no weights at $WEIGHTS (train first: ops/model/train.sh)"; exit 1; }
[[ "$LIMIT" =~ ^[1-9][0-9]*$ && "$ROUNDS" =~ ^[1-9][0-9]*$ && "$BATCH" =~ ^[1-9][0-9]*$ ]] \
  || die "LIMIT, ROUNDS and BATCH must be positive integers (got '$LIMIT', '$ROUNDS', '$BATCH')"
[ -f "$INT8_MODEL" ] || die "no $INT8_MODEL (make it: ops/model/quantize.py)"

eager_round() {
  # Each eager round times both memory layouts and, in the faster one, two passes at once of one thread each (ORT's
  # CPU default), and counts the fastest: channels_last ran 1.5-1.8 times as fast as the default layout on this
  # project's hosts, and one pass of two threads 1.3-1.5 times as fast as two of one (ops/model/README.md, Benchmark),
  # so ORT is measured against eager at its best.
  # torch_cpu_env keeps eager's activations in the heap (ORT has its own CPU arena): without it eager ran 0.5-1.5
  # images/s here, bimodally, from page faults; with it 2.0-3.1.
  local json config best=0
  for config in "contiguous 1" "channels_last 1" "channels_last 2"; do
    set -- $config
    # set -e does not reach inside $(...): each step's failure is checked, and named, here.
    json=$(/usr/bin/python3 ops/model/bench_eager.py --weights "$WEIGHTS" --images "$IMAGES" --limit "$LIMIT" \
      --batch "$BATCH" --memory-format "$1" --streams "$2") || die "bench_eager.py failed ($config)"
    echo "$json" >&2
    best=$(printf '%s' "$json" | /usr/bin/python3 -c 'import json,sys; print(max(float(sys.argv[1]), json.load(sys.stdin)["images_per_s"]))' "$best") \
      || die "bench_eager.py gave no images_per_s ($config)"
  done
  echo "$best"
}

ort_round() { # model
  local out
  # Two threads on each side, whatever the host's cores: ORT as two runs of one thread (its CPU default on 2 cores).
  out=$(ops/nfc bench inference --model "$1" --source "$IMAGES" --images "$LIMIT" --batch "$BATCH" --rounds 1 \
    --concurrent-runs 2 --threads 1 2>&1) \
    || { echo "$out" >&2; die "ops/nfc bench inference failed for $1"; }
  printf '%s\n' "$out" | grep -E '^(ort|pipeline)_images_per_s=' | sed "s|^|$(basename "$1"): |" >&2 || true
  printf '%s\n' "$out" | sed -n 's/^ort_images_per_s=//p' | tail -1
}

eager=("$(eager_round)")
float=()
int8=()
for ((r = 1; r <= ROUNDS; r++)); do
  float+=("$(ort_round "$FLOAT_MODEL")")
  int8+=("$(ort_round "$INT8_MODEL")")
  eager+=("$(eager_round)")
done
echo "batch $BATCH"
/usr/bin/python3 - "${#eager[@]}" "${eager[@]}" "${float[@]}" "${int8[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
eager = [float(v) for v in sys.argv[2:2 + n]]
rest = [float(v) for v in sys.argv[2 + n:]]
engines = {"ORT": rest[: n - 1], "ORT int8": rest[n - 1:]}
print("eager_images_per_s=" + " ".join(f"{v:.3f}" for v in eager))
for name, values in engines.items():
    key = name.lower().replace(" ", "_")
    ratios = [o / ((eager[i] + eager[i + 1]) / 2) for i, o in enumerate(values)]
    print(f"{key}_images_per_s=" + " ".join(f"{v:.3f}" for v in values))
    print(f"{name}/eager per round: " + " ".join(f"{r:.2f}" for r in ratios) +
          f"; median {statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")
    # Each engine's fastest round: the figure a noisy host disturbs least.
    print(f"{name}/eager throughput ratio: {max(values) / max(eager):.2f} (fastest round of each: {name} "
          f"{max(values):.2f}, eager {max(eager):.2f} images/s)")
PY
