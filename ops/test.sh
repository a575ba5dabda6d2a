#!/usr/bin/env bash
# The single test command: native libraries, PostgreSQL and RabbitMQ up, build, every unit and integration test, and
# the model tooling's Python tests (ops/model/test_*.py).
# Prints the runners' summaries and a total line; exits non-zero on any failure.
#   NFC_TEST_FILTER=...   pass a dotnet test --filter expression
#   NFC_KEEP_SERVICES=1   leave services running even when this script started them (under CI=true, a run that
#                         created the servers' data otherwise deletes it afterwards: services.sh purge)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$NFC_ROOT"

command -v dotnet >/dev/null || die "the .NET 10 SDK is required (https://dot.net); dotnet is not on PATH"
# CI runs everything: a filter left in its environment made a partial run (no Python tests, no check that every
# project reported) that passed.
[ -n "${NFC_TEST_FILTER:-}" ] && [ "${CI:-}" = true ] && die "NFC_TEST_FILTER is set under CI=true; CI runs every test (unset it)"
# One run per checkout: a second deleted the first's results and restarted the servers under its tests. (A pid file,
# not a lock: the servers and dotnet's build nodes this run starts would inherit a lock's descriptor and hold it.)
mkdir -p "$NFC_LOCAL"
test_pid="$NFC_LOCAL/test.pid"
if other="$(cat "$test_pid" 2>/dev/null)" && [ "$other" != "$$" ] && kill -0 "$other" 2>/dev/null \
    && grep -qa -- 'test.sh' "/proc/$other/cmdline" 2>/dev/null; then
  die "another ops/test.sh (pid $other) is running in this checkout; wait for it"
fi
echo "$$" >"$test_pid"
# The summaries below are read in English (a localised SDK prints "Bestanden!" for "Passed!").
export DOTNET_CLI_UI_LANGUAGE=en DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

"$NFC_ROOT/ops/native.sh"
apt_ensure chromium chromium-driver   # the dashboard's browser tests (Selenium drives Debian's chromium)

# Stop afterwards only the servers this run started (one may already run for a worker): as `up` itself says, under
# the checkout's services lock; a status asked before it could not tell an ops/run.sh starting them at the same time.
mkdir -p "$NFC_LOCAL"
up_log="$(mktemp "$NFC_LOCAL/test-services-up.XXXXXX")"
stop_started_services() {
  trap '' TERM HUP INT   # a second signal must not cut the clean-up short
  rm -f "$test_pid"
  # dotnet's build servers (MSBuild nodes, the compiler servers) outlive the build; a CI run leaves nothing behind.
  if [ "${CI:-}" = true ]; then dotnet build-server shutdown >/dev/null 2>&1 || true; fi
  # A worker ops/run.sh started since uses them: left running (ops/run.sh stop, then ops/services.sh down, stops them).
  if ours_running "$NFC_LOCAL/run/worker.pid"; then
    log "servers left running: ops/run.sh's worker uses them"; rm -f "$up_log"; return 0
  fi
  # Under CI, servers whose data this run created are deleted with it (services.sh purge): a clean clone's data would
  # otherwise stay behind, outside the clone when run as root.
  # A folder outside the clone that a killed earlier run at this path left ("cannot enter", linked again) counts as this run's.
  if grep -qE 'initialising PostgreSQL|postgres cannot enter' "$up_log" && [ "${CI:-}" = true ]; then
    "$NFC_ROOT/ops/services.sh" purge || true
  else
    if grep -q 'starting RabbitMQ' "$up_log"; then "$NFC_ROOT/ops/services.sh" down rabbitmq || true; fi
    if grep -q 'starting PostgreSQL' "$up_log"; then "$NFC_ROOT/ops/services.sh" down postgres || true; fi
  fi
  rm -f "$up_log"
}
# Set before `up`, so a server started by an `up` that then fails is stopped too.
if [ "${NFC_KEEP_SERVICES:-0}" = 1 ]; then trap 'rm -f "$up_log" "$test_pid"' EXIT; else trap stop_started_services EXIT; fi
# A signal without a trap of its own ends bash without its EXIT trap: a run killed by a CI timeout or `timeout(1)`
# left the servers (on their fixed ports) running and their data behind.
trap 'exit 143' TERM; trap 'exit 129' HUP; trap 'exit 130' INT
"$NFC_ROOT/ops/services.sh" up 2>&1 | tee "$up_log" >&2
services_env_load
export NFC_ORT_LIBRARY="${NFC_ORT_LIBRARY:-$NFC_LOCAL/native/libonnxruntime.so.1}"

nuget_sources_ensure
log "building"
# The whole output goes to a file: a failed build shows its compiler errors, a good one its summary.
mkdir -p "$NFC_LOCAL"
# Under the build lock that ops/nfc and ops/run.sh take (common.sh, build_if_stale): the builds share src/*/obj.
( flock 9; dotnet build NfcPipeline.sln -c Release -v q -nologo >"$NFC_LOCAL/test-build.log" 2>&1 9>&- ) 9>"$NFC_LOCAL/.build-lock" \
  || { { grep -E ' error ' "$NFC_LOCAL/test-build.log" || true; } | sort -u | head -n 40 >&2 || true; tail -n 5 "$NFC_LOCAL/test-build.log" >&2
       die "the build failed (full log: $NFC_LOCAL/test-build.log)"; }
tail -n 3 "$NFC_LOCAL/test-build.log"

results="$NFC_LOCAL/test-results"
rm -rf "$results"; mkdir -p "$results"
# The service-outage tests stop and restart the shared servers, so they run alone, after every other test assembly
# (which run in parallel processes) has finished.
OUTAGE="FullyQualifiedName~ServiceOutageTests"
run_tests() { # filter label
  log "running $2"
  # The console logger at "minimal" prints each failure with its message and stack; trx files keep everything.
  dotnet test NfcPipeline.sln -c Release --no-build -nologo --filter "$1" \
    --logger "console;verbosity=minimal" --logger trx --blame-hang-timeout 10m --blame-hang-dump-type mini --results-directory "$results" 2>&1 | tee -a "$results/console.log"
  return "${PIPESTATUS[0]}"
}
set +e
rc=0
python_tests=""
if [ -n "${NFC_TEST_FILTER:-}" ]; then
  # Split as below: outage tests among the selection still run alone, after the rest.
  run_tests "($NFC_TEST_FILTER)&FullyQualifiedName!~ServiceOutageTests" "tests matching $NFC_TEST_FILTER" || rc=1
  run_tests "($NFC_TEST_FILTER)&$OUTAGE" "service-outage tests matching $NFC_TEST_FILTER (alone)" || rc=1
else
  # The model tooling's own tests (Python, Debian's packages; the C# tests need none of them, only /usr/bin/python3 itself).
  python_tooling_ensure
  log "running the model tooling's Python tests"
  # Bounded as the C# tests are (their hang timeout): a test hung in its own process would hold CI to its limit.
  timeout -k 1m 30m /usr/bin/python3 -m unittest discover -s ops/model -p 'test_*.py' 2>&1 | tee "$results/python.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
  python_tests=$(sed -n 's/^Ran \([0-9]*\) tests\? in .*/\1/p' "$results/python.log")
  # unittest exits 0 having found nothing: a discovery that broke must not pass as "0 run".
  [ "${python_tests:-0}" -gt 0 ] || { log "the Python tests reported nothing"; rc=1; }
  run_tests "FullyQualifiedName!~ServiceOutageTests" "tests" || rc=1
  # Every test project must report: one that stopped being a test project would otherwise go unnoticed.
  # Counted by name: one project reporting twice must not hide another that never did.
  projects=$(find tests -mindepth 2 -maxdepth 2 -name '*Tests.csproj' | wc -l)
  reported=$(grep -o -E '(Passed|Failed)! +- +Failed:.* - [A-Za-z.]+Tests\.dll' "$results/console.log" | grep -o -E '[A-Za-z.]+Tests\.dll' | sort -u | wc -l || true)
  [ "$reported" -ge "$projects" ] || { log "only $reported of $projects test projects reported results"; rc=1; }
  before=$(grep -c -E '(Passed|Failed)! +- +Failed:' "$results/console.log" || true)
  run_tests "$OUTAGE" "service-outage tests (alone)" || rc=1
  # A filter that matches nothing ("No test matches") exits 0: the outage tests renamed away would pass unseen.
  after=$(grep -c -E '(Passed|Failed)! +- +Failed:' "$results/console.log" || true)
  [ "$after" -gt "$before" ] || { log "the service-outage tests reported nothing (filter $OUTAGE)"; rc=1; }
fi
set -e

# One closing line over all test assemblies. A skipped test fails the run: every test here runs its real parts
# (a missing service is a failure, never a skip), so a skip is one someone left switched off. An aborted run (a
# hang past the blame timeout, a crashed test host) still prints "Passed!" for the tests that reported before it,
# so it is counted apart: its unreported tests appear in no other number.
summary=0
awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(/,/, ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     } /^Test Run Aborted/ { a++ }
     END { printf "tests: %d passed, %d failed, %d skipped, %d runs aborted\n", p, f, s, a; exit 8 + (s > 0) + 2 * (a > 0) }' \
  "$results/console.log" || summary=$?
# 8 to 11 is the script's own answer; anything else is awk failing (1 or 2 for its own errors, 128+ for a signal).
if [ "$summary" -lt 8 ] || [ "$summary" -gt 11 ]; then log "the test summary could not be computed (awk exited $summary)"; rc=1; summary=8; fi
[ $((summary & 1)) -eq 0 ] || { log "some tests were skipped: none may be"; rc=1; }
[ $((summary & 2)) -eq 0 ] || { log "a test run was aborted (see 'The active test run was aborted' above)"; rc=1; }
if [ -n "$python_tests" ]; then
  if grep -q -E '^OK \(.*skipped=' "$results/python.log"; then
    echo "python tests: $python_tests run, some skipped"; log "some Python tests were skipped: none may be"; rc=1
  else
    echo "python tests: $python_tests run, $(grep -q '^OK' "$results/python.log" && echo 'all passed' || echo 'FAILED')"
  fi
fi
grep -q -E '(Passed|Failed)! +- +Failed:' "$results/console.log" || { log "no test assembly reported results"; exit 1; }
exit "$rc"
