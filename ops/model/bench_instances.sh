#!/usr/bin/env bash
# PyTorch eager against ONNX Runtime on the same Mask R-CNN weights and image size; prints both rates and their ratio.
#   ops/model/bench_instances.sh [--tiny | --resnet50 | --weights model.pth] [--classes a,b,c] [--images N] [--size W H]
#                                [--max-detections D]
# --resnet50 benchmarks the full-size architecture with seeded random weights; random heads detect up to D objects
# (default 30, about a nailfold field's capillaries), and the mask and keypoint heads' cost grows with D.
# The model is exported with a short_side policy equal to H, so a W×H image reaches ORT unresized, as eager sees it.
# ORT is measured by `ops/nfc bench inference --model` (line ort_images_per_s=...), when the CLI has that command.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON=/usr/bin/python3
source "$ROOT/ops/lib/common.sh"
python_tooling_ensure
MODEL_ARGS=(--tiny)
IMAGES=4
WIDTH=1024
HEIGHT=768
DETECTIONS=30
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) MODEL_ARGS=(--tiny); shift ;;
    --resnet50) MODEL_ARGS=(); shift ;;
    --weights) MODEL_ARGS=(--weights "$2"); shift 2 ;;
    --max-detections) DETECTIONS="$2"; shift 2 ;;
    --classes) MODEL_ARGS+=(--classes "$2"); shift 2 ;;
    --images) IMAGES="$2"; shift 2 ;;
    --size) WIDTH="$2"; HEIGHT="$3"; shift 3 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

# The tiny architecture keeps its fixture's 6 detections.
if [ "${MODEL_ARGS[*]:-}" = "--tiny" ]; then DETECTION_ARGS=(); DETECTIONS=6; else DETECTION_ARGS=(--max-detections "$DETECTIONS"); fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
MODEL="$WORK/instances_bench.onnx"
# Torch's warnings stay out of the figures; shown when a step fails.
quiet() { "$@" 2>"$WORK/stderr" || { tail -n 20 "$WORK/stderr" >&2; echo "failed: $*" >&2; exit 1; }; }
quiet "$PYTHON" "$ROOT/ops/model/export_maskrcnn.py" "${MODEL_ARGS[@]}" "${DETECTION_ARGS[@]}" --short-side "$HEIGHT" --no-reference --out "$MODEL"

echo "model: ${MODEL_ARGS[*]:-resnet50 (random weights)}, ${WIDTH}x${HEIGHT}, up to $DETECTIONS detections, $IMAGES images"
EAGER="$(quiet "$PYTHON" "$ROOT/ops/model/export_maskrcnn.py" "${MODEL_ARGS[@]}" "${DETECTION_ARGS[@]}" --bench-eager "$IMAGES" --bench-size "$WIDTH" "$HEIGHT" \
  | sed -n 's/^eager_images_per_s=//p')"
[ -n "$EAGER" ] || { echo "the eager run printed no eager_images_per_s" >&2; exit 1; }
echo "eager_images_per_s=$EAGER"

# Only a CLI whose sources print ort_images_per_s has the bench; asking an older one for --help would just build it.
if grep -rqs "ort_images_per_s" "$ROOT/src/NfcPipeline.Cli"; then
  # A CLI that fails to build is an error, not "no bench".
  quiet "$ROOT/ops/nfc" bench inference --help >/dev/null
  # Raw ORT (the session's run on a prepared batch), as eager runs the bare nn.Module; the pipeline's rate beside it.
  # The sample study as its source wherever this is run from.
  BENCH="$("$ROOT/ops/nfc" bench inference --model "$MODEL" --batch 1 --images "$IMAGES" --source "$ROOT/samples/demo-study" | tee /dev/stderr)"
  ORT="$(sed -n 's/^.*ort_images_per_s=\([0-9.eE+-]*\).*$/\1/p' <<<"$BENCH" | tail -n 1)"
  # No rate printed is a failed bench, not a ratio of 0.
  [ -n "$ORT" ] || { echo "bench_instances.sh: ops/nfc bench inference printed no ort_images_per_s" >&2; exit 1; }
  echo "ort_images_per_s=$ORT"
  sed -n 's/^\(pipeline_images_per_s=.*\)$/\1/p' <<<"$BENCH"
  awk -v o="$ORT" -v e="$EAGER" 'BEGIN { if (e > 0) printf "ort_over_eager=%.2f\n", o / e }'
else
  echo "ort_images_per_s=unavailable: this checkout's ops/nfc has no 'bench inference --model'"
fi
