#!/usr/bin/env bash
# Local PostgreSQL 15 and RabbitMQ (with management) for development and tests.
#   ops/services.sh up|down [postgres|rabbitmq] | purge | status | env
# Both bind 127.0.0.1 only and take passwords: generated once into .local/services/credentials (mode 0600), printed
# by `env` in the connection strings. Data, logs and pid files live under .local/services/ (git-ignored).
# `up` is idempotent; `down` stops only the processes that `up` started, found by their pid files.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

SVC="$NFC_LOCAL/services"
# The ports the servers were last started on are kept ($SVC/ports), so later commands (`env`, `up`, ops/run.sh) find
# them without the variables set again; a variable naming another port while a server runs is refused (`down` first).
PORTS_FILE="$SVC/ports"
saved_port() { { [ -f "$PORTS_FILE" ] && sed -n "s/^$1=\([0-9][0-9]*\)\$/\1/p" "$PORTS_FILE" | head -n1; } || true; }
port_setting() {
  local given="${!1:-}" saved; saved="$(saved_port "$1")"
  # Refused here, not by the server: RabbitMQ took 99999 and died at boot on it.
  [[ -z "$given" || ( "$given" =~ ^[1-9][0-9]{0,4}$ && "$given" -le 65535 ) ]] || die "$1 must be a TCP port, 1 to 65535 (got '$given')"
  echo "${given:-${saved:-$2}}"
}
PG_PORT="$(port_setting NFC_PG_PORT 35432)"
PG_DB="${NFC_PG_DATABASE:-nfc}"
PG_BIN="${NFC_PG_BIN:-/usr/lib/postgresql/15/bin}"
# PostgreSQL's files live in $SVC/pg, or where that link points (see pg_dir_setup).
pg_paths() {
  PG_DIR="$SVC/pg"
  # -m: a link whose folder was wiped still names it (pg_dir_setup makes it again); -f failed, and set -e ended every command.
  [ -L "$PG_DIR" ] && PG_DIR="$(readlink -m "$PG_DIR")"
  PG_DATA="$PG_DIR/data"; PG_LOG="$PG_DIR/postgres.log"
}
pg_paths

RMQ_PORT="$(port_setting NFC_RABBIT_PORT 35672)"
RMQ_MGMT_PORT="$(port_setting NFC_RABBIT_MGMT_PORT 35673)"
RMQ_DIST_PORT="$(port_setting NFC_RABBIT_DIST_PORT 35674)"
RMQ_EPMD_PORT="$(port_setting NFC_RABBIT_EPMD_PORT 35675)"
RMQ_HOME="$SVC/rabbitmq"
RMQ_NODE="nfc@localhost"
RMQ_PID="$RMQ_HOME/rabbitmq.pid"
RMQ_LOG_DIR="$RMQ_HOME/log"
READY_TIMEOUT="${NFC_SERVICES_TIMEOUT:-90}"
# Used in shell arithmetic, which would evaluate an expression given here.
[[ "$READY_TIMEOUT" =~ ^[1-9][0-9]{0,5}$ ]] || die "NFC_SERVICES_TIMEOUT must be a whole number of seconds (got '$READY_TIMEOUT')"
CREDENTIALS="$SVC/credentials"
RMQ_USER=nfc

# The servers' passwords: made once (letters and digits, so they need no quoting in URIs or connection strings),
# readable by this account only; other local accounts cannot reach the data through 127.0.0.1.
credentials_load() {
  if [ ! -s "$CREDENTIALS" ]; then
    mkdir -p "$SVC"
    local pw
    ( umask 077
      { for name in PG_PASSWORD RABBIT_PASSWORD; do
          pw="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)"
          echo "$name=$pw"
        done; } >"$CREDENTIALS.tmp.$$" && {   # in a list: the urandom pipe's SIGPIPE under pipefail must not stop it
        [ ! -e "$CREDENTIALS" ] || find "$CREDENTIALS" -maxdepth 0 -type f -empty -delete || true   # an empty one, cut short
        # A link fails where the file exists: of two commands making it at once (`env` beside a first `up`), the first
        # one's passwords stand and the other reads them, instead of the servers and the file holding different ones.
        ln "$CREDENTIALS.tmp.$$" "$CREDENTIALS" 2>/dev/null || [ -s "$CREDENTIALS" ] \
          || { rm -f "$CREDENTIALS.tmp.$$"; die "could not create $CREDENTIALS (a file system without hard links?)"; }; }
      rm -f "$CREDENTIALS.tmp.$$" )
  fi
  PG_PASSWORD="$(sed -n 's/^PG_PASSWORD=//p' "$CREDENTIALS")"
  RABBIT_PASSWORD="$(sed -n 's/^RABBIT_PASSWORD=//p' "$CREDENTIALS")"
  [ -n "$PG_PASSWORD" ] && [ -n "$RABBIT_PASSWORD" ] || die "$CREDENTIALS is incomplete; remove it and run '$0 up' (the servers take the new passwords)"
  # psql and the other libpq tools read the password from here (PGPASSFILE in `env`), not from a URL on their command line.
  PGPASS_FILE="$SVC/pgpass"
  local line="127.0.0.1:$PG_PORT:*:postgres:$PG_PASSWORD"
  [ "$(cat "$PGPASS_FILE" 2>/dev/null)" = "$line" ] || ( umask 077; printf '%s\n' "$line" >"$PGPASS_FILE.tmp" && mv "$PGPASS_FILE.tmp" "$PGPASS_FILE" )
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port name logfile [pid: the server starting, whose exit ends the wait at once]
  local deadline=$((SECONDS + READY_TIMEOUT))
  until port_open "$1"; do
    if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
      log "$2 exited before it listened on 127.0.0.1:$1; last lines of $3:"
      tail -n 40 "$3" >&2 2>/dev/null || true
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "$2 did not listen on 127.0.0.1:$1 within ${READY_TIMEOUT}s; last lines of $3:"
      tail -n 40 "$3" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
}

# Stops the start of NAME when PORT is already listened on by a process that is not ours (another checkout's server,
# say): starting anyway would fail late, or worse, wait on that server and talk to it with the wrong password.
port_free_or_die() { # port name variable
  port_open "$1" || return 0
  local holder=""
  # Another account's process shows no pid to us: the message goes without it (never a silent exit under set -e).
  command -v ss >/dev/null && holder="$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 || true)"
  die "127.0.0.1:$1, $2's port, is taken by another process${holder:+ ($holder)}: another checkout's server? Stop it (its ops/services.sh down), or set $3 to another port"
}

# PIDFILE PATTERN: its process is alive and is ours (its command line holds PATTERN): after a reboot or a crash a
# stale pid file can name an unrelated process, which `down` must not kill.
pid_alive() {
  [ -f "$1" ] || return 1
  local pid; pid="$(head -n1 "$1")"
  kill -0 "$pid" 2>/dev/null && grep -qaF -- "$2" "/proc/$pid/cmdline" 2>/dev/null   # -F: a path's [ or . is no pattern
}

ensure_packages() {
  local fresh_pg=0 fresh_rmq=0 fresh_epmd=0
  # ss names the process on a taken port and lists the servers' sockets (status); minimal images lack iproute2.
  command -v ss >/dev/null || apt_ensure iproute2
  [ -x "$PG_BIN/pg_ctl" ] || fresh_pg=1
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    fresh_rmq=1
    # epmd comes with erlang-base: another Erlang program's epmd is left alone.
    dpkg-query -W -f='${Status}' erlang-base 2>/dev/null | grep -q "install ok installed" || fresh_epmd=1
  fi
  # One left behind by a run killed after both packages were in would otherwise stay, refusing the host's own starts.
  if grep -qF '# ops/services.sh, while it installs' /usr/sbin/policy-rc.d 2>/dev/null; then as_root rm -f /usr/sbin/policy-rc.d; fi
  [ $fresh_pg = 1 ] || [ $fresh_rmq = 1 ] || return 0
  # Debian's packages start system servers as they install (RabbitMQ on every interface); ours run instead. A
  # policy-rc.d that refuses those servers (and only those) keeps them from starting on any init system, where the
  # host has none of its own; removed on the way out of the subshell, whatever ends it (a failed install, Ctrl-C).
  # One left behind by a run that was killed outright is ours by its comment, and goes too.
  (
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ] || grep -qF '# ops/services.sh, while it installs' "$policy" 2>/dev/null; then
      trap 'as_root rm -f "$policy"' EXIT
      as_root sh -c "printf '%s\n' '#!/bin/sh' '# ops/services.sh, while it installs: our servers run instead of these' \
        'case \"\$1\" in postgresql*|rabbitmq-server*|epmd*) exit 101 ;; esac' 'exit 0' >'$policy' && chmod 755 '$policy'"
    fi
    [ $fresh_pg = 0 ] || apt_ensure postgresql-15
    [ $fresh_rmq = 0 ] || apt_ensure rabbitmq-server
  ) || die "could not install PostgreSQL 15 or RabbitMQ"
  # Nor at boot. Only what was installed just now: the cluster the package created (start.conf, not Debian's umbrella
  # postgresql.service, which would stop the host's other clusters too), RabbitMQ's unit, and epmd's if it came with it.
  if [ $fresh_pg = 1 ] && [ -f /etc/postgresql/15/main/start.conf ]; then
    as_root pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
    as_root sed -i 's/^auto$/manual/' /etc/postgresql/15/main/start.conf
  fi
  local units=()
  [ $fresh_rmq = 1 ] && units+=(rabbitmq-server)
  [ $fresh_epmd = 1 ] && units+=(epmd.socket epmd.service)
  if [ ${#units[@]} -gt 0 ]; then
    local unit
    if [ -d /run/systemd/system ]; then
      # One by one: a unit this Debian release does not have must not keep the others running.
      for unit in "${units[@]}"; do as_root systemctl disable --now "$unit" >/dev/null 2>&1 || true; done
    else
      as_root update-rc.d rabbitmq-server disable >/dev/null 2>&1 || true
    fi
  fi
  log "kept the system services of the packages installed just now from running (ours run instead)"
}

# NAME VARIABLE PORT...: a server of this checkout that runs is on its saved ports; another one asked for is refused,
# not a second start on the same data (or a ports file naming ports nothing listens on).
same_port_or_die() {
  local name="$1"; shift
  while [ $# -ge 2 ]; do
    local saved; saved="$(saved_port "$1")"
    [ -n "$saved" ] && [ "$saved" != "$2" ] \
      && die "$name of this checkout runs on port $saved, not $2 ($1): stop it first (ops/services.sh down) to move it"
    shift 2
  done
  return 0
}

# The ports of the servers this `up` started or found (ONLY: all, postgres or rabbitmq); the other's stay as saved.
save_ports() {
  # ONLY VARIABLE SERVER CURRENT: this up's port, or the saved one for the server this up did not touch.
  port_line() { local v=""; [ "$1" = all ] || [ "$1" = "$3" ] || v="$(saved_port "$2")"; echo "$2=${v:-$4}"; }
  local lines
  lines="$(port_line "$1" NFC_PG_PORT postgres "$PG_PORT"
           for pair in NFC_RABBIT_PORT:"$RMQ_PORT" NFC_RABBIT_MGMT_PORT:"$RMQ_MGMT_PORT" \
                       NFC_RABBIT_DIST_PORT:"$RMQ_DIST_PORT" NFC_RABBIT_EPMD_PORT:"$RMQ_EPMD_PORT"; do
             port_line "$1" "${pair%%:*}" rabbitmq "${pair#*:}"
           done)"
  mkdir -p "$SVC"
  # Replaced whole: an `env` reading it meanwhile sees the old ports or the new, never an empty file.
  echo "$lines" >"$PORTS_FILE.tmp" && mv -f "$PORTS_FILE.tmp" "$PORTS_FILE"
}

source "$(dirname "$0")/lib/postgres.sh"
source "$(dirname "$0")/lib/rabbitmq.sh"

# Each value in single quotes (a ' inside as '\''): the output is eval'ed, and a checkout's path may hold a quote, $ or backtick.
print_env() {
  shell_quote() { local v="$1" s="'"; printf "'%s'" "${v//$s/$s\\$s$s}"; }
  printf 'export NFC_PG_CONNECTION=%s\n' "$(shell_quote "Host=127.0.0.1;Port=$PG_PORT;Database=$PG_DB;Username=postgres;Password=$PG_PASSWORD")"
  printf 'export NFC_PG_ADMIN_CONNECTION=%s\n' "$(shell_quote "Host=127.0.0.1;Port=$PG_PORT;Database=postgres;Username=postgres;Password=$PG_PASSWORD")"
  printf 'export NFC_PG_URL=%s PGPASSFILE=%s\n' "$(shell_quote "postgresql://postgres@127.0.0.1:$PG_PORT/$PG_DB")" "$(shell_quote "$PGPASS_FILE")"
  printf 'export NFC_RABBIT_URI=%s\n' "$(shell_quote "amqp://$RMQ_USER:$RABBIT_PASSWORD@127.0.0.1:$RMQ_PORT/")"
  printf 'export NFC_RABBIT_MGMT_URI=%s\n' "$(shell_quote "http://127.0.0.1:$RMQ_MGMT_PORT/")"
  printf 'export NFC_SERVICES_DIR=%s\n' "$(shell_quote "$SVC")"
  printf 'export NFC_PG_PORT=%s NFC_RABBIT_PORT=%s NFC_RABBIT_MGMT_PORT=%s\n' "$PG_PORT" "$RMQ_PORT" "$RMQ_MGMT_PORT"
}

status() {
  local rc=0
  # Ours only when our own server is alive: a port held by another checkout's server is not this checkout's.
  if pid_alive "$PG_DATA/postmaster.pid" "$PG_DATA" && port_open "$PG_PORT"; then echo "postgresql: running on 127.0.0.1:$PG_PORT (pid $(head -n1 "$PG_DATA/postmaster.pid"))"
  elif port_open "$PG_PORT"; then echo "postgresql: stopped; 127.0.0.1:$PG_PORT is held by another process"; rc=1
  else echo "postgresql: stopped"; rc=1; fi
  if pid_alive "$RMQ_PID" "$RMQ_HOME" && port_open "$RMQ_PORT"; then echo "rabbitmq:   running on 127.0.0.1:$RMQ_PORT, management 127.0.0.1:$RMQ_MGMT_PORT (pid $(head -n1 "$RMQ_PID"))"
  elif port_open "$RMQ_PORT"; then echo "rabbitmq:   stopped; 127.0.0.1:$RMQ_PORT is held by another process"; rc=1
  else echo "rabbitmq:   stopped"; rc=1; fi
  if command -v ss >/dev/null; then
    echo "listening sockets:"
    ss -ltnH "( sport = :$PG_PORT or sport = :$RMQ_PORT or sport = :$RMQ_MGMT_PORT or sport = :$RMQ_DIST_PORT or sport = :$RMQ_EPMD_PORT )" \
      | awk '{print "  " $4}'
  fi
  return $rc
}

# `up postgres`, `down rabbitmq` and so on act on one server (the fault tests stop and restart them).
only="${2:-all}"
case "$only" in all|postgres|rabbitmq) ;; *) echo "usage: $0 up|down [postgres|rabbitmq]" >&2; exit 2 ;; esac
# One up, down or purge of this services folder at a time: ops/run.sh and ops/test.sh started together would each
# init, start and stop the same servers under the other.
# The lock is flock's own (-o): the servers this starts must not inherit it and hold it for ever.
case "${1:-}" in
  up|down|purge)
    if [ -z "${NFC_SERVICES_LOCKED:-}" ]; then
      mkdir -p "$(dirname "$SVC")"
      rc=0
      NFC_SERVICES_LOCKED=1 flock -o -E 75 -w 900 "${SVC%/}.lock" "$BASH" "$0" "$@" || rc=$?
      [ "$rc" -ne 75 ] || die "another ops/services.sh of this checkout held ${SVC%/}.lock for 15 minutes"
      exit "$rc"
    fi
    unset NFC_SERVICES_LOCKED ;;   # not handed to the servers
esac
case "${1:-}" in
  up)
    ensure_packages
    credentials_load
    # Each server's ports are kept as soon as it is up: one that started is found by later commands even when the
    # other then fails to.
    [ "$only" = rabbitmq ] || { pg_up; save_ports postgres; }
    [ "$only" = postgres ] || { rmq_up; save_ports rabbitmq; }
    log "services ready" ;;
  down)
    [ "$only" = postgres ] || rmq_down
    [ "$only" = rabbitmq ] || pg_down ;;
  purge)
    # Both stopped and their data deleted, with PostgreSQL's files outside the repo (pg_dir_setup): CI's clean clones
    # would otherwise leave one data folder each under /var/lib/nfc-pipeline.
    rmq_down; pg_down
    # Only the folder made for this services folder (earlier versions named it by the checkout: left alone).
    if [ -L "$SVC/pg" ] && [ "$PG_DIR" = "$(realpath -m "$(pg_alt_dir)")" ]; then rm -rf "$(dirname "$PG_DIR")"; fi
    rm -rf "$SVC"
    log "services stopped and their data deleted" ;;
  status) status ;;
  env) credentials_load; print_env ;;
  *) echo "usage: $0 up|down [postgres|rabbitmq] | purge | status | env" >&2; exit 2 ;;
esac
