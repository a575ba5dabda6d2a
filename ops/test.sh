#!/usr/bin/env bash
# The single test command: native libraries, PostgreSQL and RabbitMQ up, build, every unit and integration test.
# Prints the runners' summaries and a total line; exits non-zero on any failure.
#   NFC_TEST_FILTER=...   pass a dotnet test --filter expression
#   NFC_KEEP_SERVICES=1   leave services running even when this script started them
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$NFC_ROOT"

command -v dotnet >/dev/null || die "the .NET 10 SDK is required (https://dot.net); dotnet is not on PATH"

"$NFC_ROOT/ops/native.sh"
apt_ensure chromium chromium-driver   # the dashboard's browser tests (Selenium drives Debian's chromium)

services_were_up=0
"$NFC_ROOT/ops/services.sh" status >/dev/null 2>&1 && services_were_up=1
"$NFC_ROOT/ops/services.sh" up
if [ "$services_were_up" -eq 0 ] && [ "${NFC_KEEP_SERVICES:-0}" != 1 ]; then
  trap '"$NFC_ROOT/ops/services.sh" down || true' EXIT
fi
eval "$("$NFC_ROOT/ops/services.sh" env)"
export NFC_ORT_LIBRARY="${NFC_ORT_LIBRARY:-$NFC_LOCAL/native/libonnxruntime.so.1}"

log "building"
dotnet build NfcPipeline.sln -c Release -v q -nologo 2>&1 | tail -n 3

results="$NFC_LOCAL/test-results"
rm -rf "$results"; mkdir -p "$results"
filter=(); [ -n "${NFC_TEST_FILTER:-}" ] && filter=(--filter "$NFC_TEST_FILTER")
log "running tests"
set +e
# The console logger at "minimal" prints each failure with its message and stack; trx files keep everything.
dotnet test NfcPipeline.sln -c Release --no-build -nologo "${filter[@]}" \
  --logger "console;verbosity=minimal" --logger trx --blame-hang-timeout 10m --results-directory "$results" 2>&1 | tee "$results/console.log"
rc=${PIPESTATUS[0]}
set -e

# One closing line over all test assemblies.
awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(/,/, ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$results/console.log"
grep -q -E '(Passed|Failed)! +- +Failed:' "$results/console.log" || { log "no test assembly reported results"; exit 1; }
exit "$rc"
