#!/usr/bin/env bash
# The main job end to end: services, schema, the worker (and the dashboard), the bundled sample study dropped into a
# local watched share, progress until it completes, then the per-patient summary from the SQL view.
#   ops/run.sh          run (again: safe; a finished study is not analysed twice)
#   ops/run.sh stop     stop the worker and dashboard this script started
# NFC_RUN_SHARE (default .local/share) and NFC_MODEL (default models/nfc-reference.onnx) choose the watched share and
# the model; NFC_SHARE, docker-compose's production share, is deliberately not read here. The sample study is dropped
# into the default share only: a share of your own is watched, never written to, and the script does not wait on it.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

# Absolute, since the worker starts in its build folder; relative paths are the caller's, as ops/nfc takes them.
RUN="$NFC_LOCAL/run"; LOGS="$NFC_LOCAL/logs"; SHARE="$(realpath -m "${NFC_RUN_SHARE:-$NFC_LOCAL/share}")"
DEMO_SHARE=0; [ "$SHARE" = "$(realpath -m "$NFC_LOCAL/share")" ] && DEMO_SHARE=1
STUDY=demo-study
MODEL="$(realpath -m "${NFC_MODEL:-$NFC_ROOT/models/nfc-reference.onnx}")"
cd "$NFC_ROOT"
mkdir -p "$RUN" "$LOGS"
# The logs name studies and folders: private to this account, as the servers' data is. (Not a umask for the whole
# script: services.sh, run from here, makes folders the postgres account must enter when run as root.)
chmod 700 "$RUN" "$LOGS"

# One ops/run.sh at a time starts or stops the servers: two at once both started a worker, the second overwrote the
# pid file and the first was then told its worker had exited. Held on fd 8 until the servers are up; every command
# that may leave a process behind (servers, build nodes, the worker) runs with fd 8 closed, or it would hold the lock.
exec 8>"$RUN/run.lock"
flock -n 8 || { log "another ops/run.sh is starting or stopping the servers; waiting for it (up to 15 min)"
                flock -w 900 8 || die "another ops/run.sh held $RUN/run.lock for 15 minutes (a prompt waiting for input?)"; }

# PIDFILE: its process is alive and is this checkout's worker or dashboard (common.sh's ours_running).
alive() { ours_running "$1"; }
# The worker drains for up to its StopTimeout (60 s) plus the bus's; one still running after 120 s keeps its pid file,
# so a later stop finds it and nothing is rebuilt under it.
stop_one() {
  if alive "$RUN/$1.pid"; then
    kill -TERM "$(cat "$RUN/$1.pid")" 2>/dev/null || true   # it may have exited since
    for _ in $(seq 1 240); do alive "$RUN/$1.pid" || break; sleep 0.5; done
    alive "$RUN/$1.pid" && die "the $1 (pid $(cat "$RUN/$1.pid")) did not stop within 120 s; try again, or kill it"
    log "$1 stopped"
  fi
  rm -f "$RUN/$1.pid"
}
if [ "${1:-}" = stop ]; then stop_one worker; stop_one dashboard; exit 0; fi
# After `stop`, which must work with the share gone (unmounted) and makes nothing.
if [ "$DEMO_SHARE" = 1 ]; then mkdir -p "$SHARE"; else [ -d "$SHARE" ] || { echo "NFC_RUN_SHARE: $SHARE is not a folder" >&2; exit 2; }; fi
# Used in shell arithmetic, which would evaluate an expression given here.
RUN_TIMEOUT="${NFC_RUN_TIMEOUT:-1800}"
[[ "$RUN_TIMEOUT" =~ ^[1-9][0-9]{0,5}$ ]] || die "NFC_RUN_TIMEOUT must be a whole number of seconds (got '$RUN_TIMEOUT')"
# Before anything is installed or started: without the SDK the build failed only after both servers were up.
command -v dotnet >/dev/null || die "the .NET 10 SDK is required (https://dot.net); dotnet is not on PATH"

# LOG VARIABLE: a hint naming the port variable when the log says its address was taken (another checkout's copy).
port_hint() { grep -qi "address already in use" "$1" 2>/dev/null && echo ": its port is taken; set $2 to another" || true; }

# NAME SETTINGS: a running NAME started with other settings (model, share, address, credentials, options) would go on
# with them: stopped, to start again on these. Each start records its settings' digest in $RUN/NAME.settings.
stop_if_changed() {
  if alive "$RUN/$1.pid" && [ "$(cat "$RUN/$1.settings" 2>/dev/null)" != "$2" ]; then log "its settings changed; restarting the $1"; stop_one "$1"; fi
}

# Builds NAME's project into .local/bin/NAME when its sources changed, first stopping the copy running from there
# (it would keep the old code, or crash as its files are overwritten).
refresh() { # NAME PROJECT
  if build_is_stale "$NFC_LOCAL/bin/$1" && alive "$RUN/$1.pid"; then log "sources changed; restarting the $1"; stop_one "$1"; fi
  build_if_stale "$2" "$NFC_LOCAL/bin/$1" "nfc-$1"
}

"$NFC_ROOT/ops/native.sh" 8>&-
"$NFC_ROOT/ops/services.sh" up 8>&-
services_env_load
export NFC_ORT_LIBRARY="${NFC_ORT_LIBRARY:-$NFC_LOCAL/native/libonnxruntime.so.1}"   # a GPU build: docs/gpu.md
[ -f "$MODEL" ] || die "model not found: $MODEL (set NFC_MODEL, or train one with ops/model/train.sh)"
# A digest of what each server starts with (files, addresses, the services' credentials, options set as environment
# variables such as Inference__Decoder__CenterThreshold), not the values: the settings files are readable by others.
settings_digest() { { printf '%s\n' "$@"; env | { grep -E '^[A-Za-z]+__' || true; } | sort; } | sha256sum | cut -c1-64; }
# A file replaced at its path (ops/model/train.sh's `mv -f` onto models/nfc-reference.onnx, a new ORT build) or
# rewritten in place: the running worker holds the old one in memory, so it counts as changed settings.
file_identity() { stat -L -c '%d:%i:%s:%Y' -- "$@" 2>/dev/null || true; }
DASHBOARD_URL="http://127.0.0.1:${NFC_DASHBOARD_PORT:-5080}"
WORKER_SETTINGS="$(settings_digest "$MODEL" "$SHARE" "$NFC_PG_CONNECTION" "$NFC_RABBIT_URI" "$NFC_ORT_LIBRARY" "${NFC_WORKER_HEALTH_PORT:-5081}" \
  "$(file_identity "$MODEL" "$NFC_ORT_LIBRARY")")"
DASHBOARD_SETTINGS="$(settings_digest "$SHARE" "$DASHBOARD_URL" "$NFC_PG_CONNECTION" "$NFC_RABBIT_URI")"
# Servers with old code or other settings stop before the schema changes under them.
refresh worker src/NfcPipeline.Worker/NfcPipeline.Worker.csproj 8>&-
stop_if_changed worker "$WORKER_SETTINGS"
refresh dashboard src/NfcPipeline.Dashboard/NfcPipeline.Dashboard.csproj 8>&-
stop_if_changed dashboard "$DASHBOARD_SETTINGS"   # its overlays and folder submissions read the share
"$NFC_ROOT/ops/nfc" migrate 8>&-

if alive "$RUN/worker.pid"; then
  log "worker already running (pid $(cat "$RUN/worker.pid"))"
else
  log "starting the worker (log: $LOGS/worker.log)"
  (
    cd "$NFC_LOCAL/bin/worker"
    export Storage__ConnectionString="$NFC_PG_CONNECTION" Storage__MigrateOnStartup=false Messaging__RabbitUri="$NFC_RABBIT_URI" \
      Share__Root="$SHARE" Share__PollInterval=00:00:02 Share__SettleTime=00:00:03 Inference__ModelPath="$MODEL" \
      Worker__HealthUrls="http://127.0.0.1:${NFC_WORKER_HEALTH_PORT:-5081}"
    setsid nohup dotnet nfc-worker.dll >"$LOGS/worker.log" 2>&1 </dev/null 8>&- &
    echo $! >"$RUN/worker.pid"
  )
  echo "$WORKER_SETTINGS" >"$RUN/worker.settings"
fi

if alive "$RUN/dashboard.pid"; then
  log "dashboard already running (pid $(cat "$RUN/dashboard.pid"))"
else
  log "starting the dashboard on $DASHBOARD_URL (log: $LOGS/dashboard.log)"
  (
    cd "$NFC_LOCAL/bin/dashboard"
    export Storage__ConnectionString="$NFC_PG_CONNECTION" Messaging__RabbitUri="$NFC_RABBIT_URI" \
      Dashboard__Urls="$DASHBOARD_URL" Dashboard__ShareRoot="$SHARE"
    setsid nohup dotnet nfc-dashboard.dll >"$LOGS/dashboard.log" 2>&1 </dev/null 8>&- &
    echo $! >"$RUN/dashboard.pid"
  )
  echo "$DASHBOARD_SETTINGS" >"$RUN/dashboard.settings"
  # Its port may be taken (another checkout's dashboard): say so rather than print a URL that is not this one.
  for _ in $(seq 1 120); do alive "$RUN/dashboard.pid" || break; grep -q "Now listening on" "$LOGS/dashboard.log" && break; sleep 0.5; done
  alive "$RUN/dashboard.pid" || { tail -n 20 "$LOGS/dashboard.log" >&2; die "the dashboard exited (log above)$(port_hint "$LOGS/dashboard.log" NFC_DASHBOARD_PORT); the worker goes on (ops/run.sh stop stops it)"; }
fi
exec 8>&-   # the servers are up: another ops/run.sh may look at them now

# The worker up (model loaded, bus and health port bound), or the reason it is not, before saying what comes next.
wait_for_worker() {
  local deadline=$((SECONDS + RUN_TIMEOUT))
  until grep -q "Application started" "$LOGS/worker.log" 2>/dev/null; do
    alive "$RUN/worker.pid" || { tail -n 40 "$LOGS/worker.log" >&2; die "the worker exited (log above)$(port_hint "$LOGS/worker.log" NFC_WORKER_HEALTH_PORT)"; }
    [ $SECONDS -lt $deadline ] || die "the worker did not start in time; see $LOGS/worker.log"
    sleep 1
  done
}

if [ "$DEMO_SHARE" = 0 ]; then
  wait_for_worker
  cat <<EOT
The worker watches $SHARE (model: $MODEL): a study folder there is analysed once it holds study.json or READY and has
not changed for 3 s (README.md, "Analyse your own study"). Follow it on the dashboard at $DASHBOARD_URL (Studies, and
Share for folders not analysed and why) or with ops/nfc status. Stop with: ops/run.sh stop
EOT
  exit 0
fi

# Dropping the study: copy with timestamps kept, so a re-run finds the same content and submits nothing new. Under
# the lock again: two runs at once would remove each other's partial copy.
(
  flock -w 900 8 || die "another ops/run.sh held $RUN/run.lock for 15 minutes"
  if [ ! -d "$SHARE/$STUDY" ]; then
    rm -rf "$SHARE/$STUDY.partial"   # an interrupted copy; cp would copy into it
    cp -a "$NFC_ROOT/samples/$STUDY" "$SHARE/$STUDY.partial"
    mv "$SHARE/$STUDY.partial" "$SHARE/$STUDY"
    log "dropped samples/$STUDY into the watched share $SHARE"
  fi
) 8>"$RUN/run.lock"

# The psql of the PostgreSQL the services run (NFC_PG_BIN), else one on PATH.
PSQL="${NFC_PG_BIN:-/usr/lib/postgresql/15/bin}/psql"; [ -x "$PSQL" ] || PSQL="$(command -v psql)" || die "psql not found (set NFC_PG_BIN)"
psql_q() { "$PSQL" "$NFC_PG_URL" -v ON_ERROR_STOP=1 "$@"; }   # the password comes from PGPASSFILE (services.sh env)
deadline=$((SECONDS + RUN_TIMEOUT))
last=""; query_failures=0
while :; do
  alive "$RUN/worker.pid" || { tail -n 40 "$LOGS/worker.log" >&2; die "the worker exited (log above)$(port_hint "$LOGS/worker.log" NFC_WORKER_HEALTH_PORT)"; }
  # A query that fails (password, connection, schema) is an error to show, not a study still being waited for.
  if row="$(psql_q -tAF' ' -c "select state, images, succeeded, failed from v_study_progress where study = '$STUDY'" 2>"$RUN/psql.err")"; then
    query_failures=0
  else
    query_failures=$((query_failures + 1)); row=""
    [ $query_failures -lt 5 ] || { cat "$RUN/psql.err" >&2; die "could not read the study's progress (psql's error above)"; }
  fi
  if [ -n "$row" ]; then
    read -r state total ok bad <<<"$row"
    line="$STUDY: $state, $((ok + bad))/$total images done ($bad failed)"
    [ "$line" != "$last" ] && log "$line" && last="$line"
    case "$state" in completed|completed_with_errors) break ;; esac
  elif [ -z "$last" ]; then
    log "waiting for the watcher to submit $STUDY (it settles for 3 s first)"; last="waiting"
  fi
  [ $SECONDS -lt $deadline ] || die "the study did not complete in time; see $LOGS/worker.log"
  sleep 2
done

echo
echo "Per-patient summary (v_patient_summary):"
psql_q -P pager=off -c "
  select patient, model, um_per_px, gradable_fields as gradable, failed_fields as failed, density_mean_per_mm as density_mm, density_sd_per_mm as sd,
         round(normal_percent::numeric, 1) as normal_pct, round(abnormal_percent::numeric, 1) as abnormal_pct,
         round(apical_mean_um::numeric, 1) as apical_um, round(apical_max_um::numeric, 1) as apical_max_um,
         dilated_count as dilated, giant_count as giant, hemorrhage_count as hemorrhages, pattern
  from v_patient_summary where study = '$STUDY' and is_study_model order by patient"
# The sample study analyses every image and aggregates every patient: anything less is a failed run, not a result.
patients="$(psql_q -tA -c "select count(*) from v_patient_summary where study = '$STUDY' and is_study_model and pattern is not null")"
[ "${patients:-0}" -gt 0 ] || die "no patient of $STUDY was aggregated; see $LOGS/worker.log"
[ "${bad:-0}" -eq 0 ] || die "$bad image(s) of the sample study failed; their reasons are on the dashboard ($DASHBOARD_URL) and in $LOGS/worker.log"
cat <<EOT
More: eval "\$(ops/services.sh env)"; psql "\$NFC_PG_URL", and the views v_patient_summary, v_patient_morphology,
v_patient_diameters, v_study_progress and v_image_results (examples in README.md).
Dashboard (loopback only; the local user is an operator): $DASHBOARD_URL
The worker keeps running and watches $SHARE; stop both with: ops/run.sh stop
EOT
