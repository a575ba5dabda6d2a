# Shared helpers for ops scripts. Source it; it defines functions and paths only.
NFC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Absolute: scripts change directory (services.sh to /, run.sh into the build output) after reading it.
NFC_LOCAL="$(realpath -m "${NFC_LOCAL:-$NFC_ROOT/.local}")"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Exports the local services' connection settings (ops/services.sh env). A failing `env` must stop the caller: eval
# of its empty output would succeed and leave the defaults in place.
services_env_load() {
  local settings
  settings="$("$NFC_ROOT/ops/services.sh" env)" || die "ops/services.sh env failed"
  eval "$settings"
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; return; fi
  # Without sudo every try failed at once, and apt_ensure's retries waited minutes before a misleading message.
  command -v sudo >/dev/null || die "this needs root for: $*; run as root, or install sudo"
  sudo "$@"
}

# Installs Debian packages that are not installed yet. Quiet, non-interactive.
apt_ensure() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  # A freshly booted machine's unattended upgrades may hold dpkg's lock for a while: wait for it instead of failing.
  # The package lists' lock has no such wait (apt-daily's first update holds it), so the tries span a few minutes; they
  # also ride out a mirror hiccup. An install killed half way left packages unconfigured, which every later one refuses.
  local try waits=(10 20 30 60 60)
  as_root env DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null 2>&1 || true
  for try in 1 2 3 4 5 6; do
    # A failing extra source (an expired key) fails the update while Debian's lists are fine: the install decides.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null ||
      log "apt-get update reported errors; installing from the lists it has"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null &&
      return 0
    [ "$try" -lt 6 ] && { log "apt-get failed; trying again in ${waits[try - 1]} s"; sleep "${waits[try - 1]}"; }
  done
  die "apt-get install ${missing[*]} failed"
}

# The Debian packages the model tooling (ops/model/*.py) imports, so its scripts run on a fresh machine.
python_tooling_ensure() {
  apt_ensure python3 python3-numpy python3-scipy python3-opencv python3-torch python3-torchvision python3-onnx
}

# Settings for PyTorch on the CPU, for the model scripts. OpenMP threads sleep at barriers instead of spinning (on 2
# shared cores spinning made a training step 2-4x slower). glibc keeps large blocks in the heap instead of mmap-ing
# and page-faulting every activation afresh, as an arena allocator would: a training step went from 0.76 to 0.53 s
# on this 2-core host (same losses), eager inference from 0.5-1.5 to 2.0-2.8 images/s.
torch_cpu_env() {
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
  export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4294967296}"
  export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-4294967296}"
}

# True when a cached held-out study's truth was written by the current simulator version. Usage: heldout_is_current TRUTH
heldout_is_current() {
  "$PY" -c 'import sys; sys.path.insert(0, "ops/model"); import simulate
sys.exit(0 if simulate.truth_is_current(sys.argv[1]) else 1)' "$1"
}

# The evaluations the model card reads, into RUN: the Python held-out metrics, ORT parity when the native library is
# there, and the same study through `ops/nfc evaluate`, for the float model and for its int8 variant where there is
# one, then further held-out studies at other um/px. Usage: model_card_evaluations RUN MODEL WEIGHTS SEED PATIENTS
model_card_evaluations() {
  local run="$1" model="$2" weights="$3" seed="$4" patients="$5"
  # Where evaluate.py simulates it (NFC_LOCAL, as repo_paths.local); relative, as the card names what it reads.
  local evals; evals="$(realpath -m --relative-to=. "$NFC_LOCAL")/model-eval"
  local study="$evals/heldout-$seed-$patients"
  "$PY" ops/model/evaluate.py --weights "$weights" --seed "$seed" --patients "$patients" \
    --out "$run/metrics.json" > "$run/evaluate.log"
  log "$(date -u +%FT%TZ) Python evaluation: $run/metrics.json"
  if [ -f "$NFC_LOCAL/native/libonnxruntime.so.1" ]; then
    local parity=0
    "$PY" ops/model/ort_parity.py --onnx "$model" --weights "$weights" --limit 2 > "$run/ort_parity.json" || parity=$?
    if [ "$parity" -eq 0 ]; then
      log "ONNX Runtime parity: $run/ort_parity.json"
    elif [ "$parity" -eq 3 ]; then   # the export differs from the weights: nothing is shipped
      die "ONNX Runtime differs from eager PyTorch beyond the tolerance ($run/ort_parity.json); the export is not shipped"
    else   # the check itself failed: no half-written file for the card to read as a measurement
      log "ONNX Runtime parity could not be checked; the card leaves it out"; rm -f "$run/ort_parity.json"
    fi
  else
    rm -f "$run/ort_parity.json"
  fi
  local variant int8="${model%.onnx}.int8.onnx"
  for variant in "" "-int8"; do
    local m="$model" out="$run/csharp-evaluate$variant.json"
    [ -n "$variant" ] && m="$int8"
    rm -f "$out"
    [ -f "$m" ] || continue
    if command -v dotnet >/dev/null 2>&1 && [ -f "$study.truth.json" ]; then
      "$NFC_ROOT/ops/nfc" evaluate --images "$study" --truth "$study.truth.json" --model "$m" --json > "$out" \
        || { log "ops/nfc evaluate failed for $m; the card leaves out its C# table"; rm -f "$out"; }
    fi
  done
  # More held-out studies, each at the um/px simulate.py draws for it, through `ops/nfc evaluate` with the float model:
  # the card's table of accuracy by resolution. NFC_CARD_EXTRA_SEEDS="" leaves them out.
  rm -f "$run"/csharp-evaluate-seed*.json
  command -v dotnet >/dev/null 2>&1 || return 0
  local extra
  for extra in ${NFC_CARD_EXTRA_SEEDS-778 779 780}; do
    local other="$evals/heldout-$extra-$patients"
    heldout_is_current "$other.truth.json" || "$PY" ops/model/simulate.py --out "$other" --replace --patients "$patients" --seed "$extra" \
      --fingers L2,L4,R3,R5 --fields 1 > /dev/null
    "$NFC_ROOT/ops/nfc" evaluate --images "$other" --truth "$other.truth.json" --model "$model" --json \
      > "$run/csharp-evaluate-seed$extra.json" \
      || { log "ops/nfc evaluate failed on seed $extra; the card leaves it out"; rm -f "$run/csharp-evaluate-seed$extra.json"; }
  done
}

# A path the caller gave, relative to where they ran the script (NFC_CALLER_PWD, kept before its cd): relative to the
# project when it lies inside it (a model card names it), else absolute. Usage: caller_path PATH
caller_path() {
  local p root
  p="$(cd "${NFC_CALLER_PWD:-$PWD}" && realpath -m -- "$1")"
  root="$(realpath -m -- "$NFC_ROOT")"
  case "$p" in "$root"/*) realpath -m --relative-to="$root" -- "$p" ;; *) printf '%s\n' "$p" ;; esac
}

# Refuses (exit 2) a MODEL whose folder holds a README.md other than a model card: finish.sh writes the card there.
model_card_folder_check() {
  local card
  card="$(dirname "$1")/README.md"
  case "$1" in *.onnx) ;; *) echo "the model must end in .onnx: $1" >&2; exit 2 ;; esac
  if [ -f "$card" ] && ! grep -qF 'by `ops/model/write_card.py`' "$card"; then
    echo "$card is not a model card, and the model's card would replace it: put $(basename "$1") in a folder of its own" >&2
    exit 2
  fi
}

# One train.sh or finish.sh per run folder OUT at a time: two would write one checkpoint's (and cache's) temporary file
# at once, and a second finish.sh delete the first one's staged files. Held on fd 9 to the end; a script this one runs
# (train.sh's finish.sh) holds it already.
run_folder_lock() {
  [ "${NFC_RUN_FOLDER_LOCKED:-}" = "$1" ] && return 0
  mkdir -p "$1"
  exec 9>>"$1/.lock"
  flock -n 9 || die "another train.sh or finish.sh is working in $1 (it holds $1/.lock); wait for it, or use another folder"
  export NFC_RUN_FOLDER_LOCKED="$1"
}

# What every model script starts with: its Python packages, the CPU settings, and PY, the interpreter to use.
model_script_init() {
  python_tooling_ensure
  torch_cpu_env
  PY=/usr/bin/python3
}

# The build's source files, with find's further tests and actions (FIND-ARGS...). Paths relative to the project, so
# that bin/ and obj/ are matched below it, not in a checkout path like ~/bin/nfc.
source_files() {
  (cd "$NFC_ROOT" && find src migrations Directory.Build.props Directory.Packages.props \
    \( -name '*.cs' -o -name '*.csproj' -o -name '*.sql' -o -name '*.props' -o -name '*.json' -o -name '*.cshtml' -o -name '*.css' -o -name '*.js' \) \
    -not -path '*/bin/*' -not -path '*/obj/*' "$@")
}

# The sources' names as one digest: a file deleted or renamed (a checkout that only removes one) changes it, though
# no source is newer than the build.
source_names_digest() { source_files -print | LC_ALL=C sort | sha256sum | cut -c1-64; }

# True when OUT has no build yet, a source is newer than its last build, or the sources are not the ones it built
# (the stamp holds their names' digest). Usage: build_is_stale OUT
build_is_stale() {
  local stamp="$1/.build-stamp"
  ! { [ -f "$stamp" ] && [ -z "$(source_files -newer "$stamp" -print -quit)" ] \
      && [ "$(cat "$stamp")" = "$(source_names_digest)" ]; }
}

# nuget.config lists a machine-local package folder first (/opt/nuget/packages: packages this site's mirror lacks);
# NuGet refuses a local source that does not exist, so an empty one is made where it is missing (nuget.org serves all).
nuget_sources_ensure() {
  local folder
  folder="$(sed -n 's/.*key="local" value="\([^"]*\)".*/\1/p' "$NFC_ROOT/nuget.config")"
  [ -z "$folder" ] || [ -d "$folder" ] || as_root mkdir -p "$folder" || die "could not create NuGet's local source $folder"
}

# PIDFILE names a running server of this checkout: alive, an nfc-NAME.dll (NAME from the file's name) started in this
# checkout's .local/bin/NAME (builds update that folder in place). A stale pid file naming an unrelated process, another
# checkout's worker or a test's worker (the same dll, another folder) is none of ours: neither reported running nor stopped.
ours_running() {
  local pid name
  [ -f "$1" ] && pid="$(cat "$1")" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  name="$(basename "$1" .pid)"
  local cwd want
  cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || return 1
  want="$(realpath -m "$NFC_LOCAL/bin/$name")"
  # A folder removed under it (rm -rf .local/bin) reads "... (deleted)": still this checkout's, to be stopped.
  grep -qa -- "nfc-$name.dll" "/proc/$pid/cmdline" 2>/dev/null && { [ "$cwd" = "$want" ] || [ "$cwd" = "$want (deleted)" ]; }
}

# Builds a project into OUT when build_is_stale says so. Usage: build_if_stale PROJECT OUT NAME
build_if_stale() {
  local project="$1" out="$2" name="$3" stamp="$2/.build-stamp"
  build_is_stale "$out" || return 0
  nuget_sources_ensure
  log "building $name"
  mkdir -p "$out"
  # Stamped as of the build's start, so a source saved while it ran is newer and builds next time. One build of the
  # project at a time (ops/nfc in one shell, ops/run.sh or ops/test.sh in another): they share src/*/obj, so the second
  # waits, then finds its output fresh. The lock's descriptor is not passed to dotnet, whose build servers outlive the
  # build and would hold the lock.
  ( flock 9
    build_is_stale "$out" || exit 0
    source_names_digest >"$stamp.next"
    dotnet build "$NFC_ROOT/$project" -c Release -o "$out" -v q -nologo >"$NFC_LOCAL/$name-build.log" 2>&1 9>&- \
      || { tail -n 30 "$NFC_LOCAL/$name-build.log" >&2; exit 1; }
    mv "$stamp.next" "$stamp"
  ) 9>"$NFC_LOCAL/.build-lock" || die "building $name failed (full log: $NFC_LOCAL/$name-build.log)"
}
