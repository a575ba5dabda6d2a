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

# The environment every RabbitMQ program (server and CLI) must share.
rmq_env() {
  export HOME="$RMQ_HOME" \
    RABBITMQ_NODENAME="$RMQ_NODE" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$RMQ_PORT" \
    RABBITMQ_DIST_PORT="$RMQ_DIST_PORT" \
    RABBITMQ_MNESIA_BASE="$RMQ_HOME/mnesia" \
    RABBITMQ_LOG_BASE="$RMQ_LOG_DIR" \
    RABBITMQ_PID_FILE="$RMQ_PID" \
    RABBITMQ_CONFIG_FILE="$RMQ_HOME/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_HOME/enabled_plugins" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    ERL_EPMD_ADDRESS=127.0.0.1 \
    ERL_EPMD_PORT="$RMQ_EPMD_PORT"
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
  kill -0 "$pid" 2>/dev/null && grep -qa -- "$2" "/proc/$pid/cmdline" 2>/dev/null
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

# As root, the server runs as the postgres user, which must be able to reach its directory. When the checkout
# sits below a directory that postgres cannot enter (a private temp dir, say), the files go to a postgres-owned
# directory outside the repo instead, linked from .local/services/pg; the user's permissions are left alone.
# The postgres-owned folder for this services folder: named by $SVC's real path, not the checkout's, so a second
# services folder of one checkout (NFC_LOCAL, as a test sets it) never shares, or purges, the first one's data.
pg_alt_dir() { echo "/var/lib/nfc-pipeline/$(realpath -m "$SVC" | tr -d '\n' | sha256sum | cut -c1-16)/pg"; }

pg_dir_setup() {
  mkdir -p "$SVC"
  [ "$(id -u)" -eq 0 ] || { mkdir -p "$SVC/pg"; pg_paths; return; }
  id postgres >/dev/null 2>&1 || die "user postgres missing; install postgresql-15"
  # A link whose folder was wiped (a rebuilt container over a kept checkout): the folder is made again, with a new cluster.
  if [ -L "$SVC/pg" ] && [ ! -e "$SVC/pg" ]; then
    mkdir -p "$(readlink "$SVC/pg")"
    log "PostgreSQL's folder $(readlink "$SVC/pg") was gone; made again"
  elif [ ! -e "$SVC/pg" ]; then
    mkdir -p "$SVC/pg"
    if ! runuser -u postgres -- test -x "$SVC/pg" 2>/dev/null; then
      rmdir "$SVC/pg"
      local alt; alt="$(pg_alt_dir)"
      mkdir -p "$alt"
      ln -s "$alt" "$SVC/pg"
      log "postgres cannot enter $SVC; its files go to $alt (linked from .local/services/pg)"
    fi
  fi
  pg_paths
  chown postgres:postgres "$PG_DIR"   # initdb creates the data directory in it as postgres
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

pg_up() {
  cd /  # postgres-run tools start in the caller's directory, which the postgres user may not be able to enter
  if pid_alive "$PG_DATA/postmaster.pid" "$PG_DATA"; then same_port_or_die PostgreSQL NFC_PG_PORT "$PG_PORT"
  else port_free_or_die "$PG_PORT" PostgreSQL NFC_PG_PORT; fi
  pg_dir_setup
  # initdb and the server refuse to run as root: the data directory belongs to the postgres user.
  local run=()
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initialising PostgreSQL in $PG_DATA"
    # The password file must be readable by the server's user; it is removed once initdb has read it.
    local pwfile="$PG_DIR/initdb.pw"
    ( umask 077; printf '%s\n' "$PG_PASSWORD" >"$pwfile" )
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pwfile"
    # Into a temporary folder, renamed when complete: an initdb cut short (PG_VERSION is among its first files) must
    # not leave a cluster that every later start fails on.
    rm -rf "$PG_DATA.tmp"
    [ -e "$PG_DATA" ] && { mv "$PG_DATA" "$PG_DATA.incomplete-$(date +%s)"; log "moved aside an incomplete data directory"; }
    "${run[@]}" "$PG_BIN/initdb" -D "$PG_DATA.tmp" -U postgres -A scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
      >"$PG_DIR/initdb.log" 2>&1 || { rm -f "$pwfile"; tail -n 20 "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    mv "$PG_DATA.tmp" "$PG_DATA"
  fi
  if pid_alive "$PG_DATA/postmaster.pid" "$PG_DATA"; then
    # Ours, perhaps still starting or recovering (an up interrupted a moment ago): waited for below, not started twice.
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # Not ours and the port free (checked above): a pid file left by a crash or a reboot, whose pid another process
    # may have taken since, which PostgreSQL would take for a server still running.
    rm -f "$PG_DATA/postmaster.pid"
    # Files left by root (a copied or restored directory) must be the server's. Only while it is stopped: a running
    # server drops files as the walk goes (a test dropping its database), and chown fails on them.
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$PG_DIR"
    pg_start
  fi
  wait_port "$PG_PORT" PostgreSQL "$PG_LOG"
  pg_require_password
  if ! PGPASSWORD="$PG_PASSWORD" "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='$PG_DB'" postgres | grep -q 1; then
    PGPASSWORD="$PG_PASSWORD" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DB"
    log "created database $PG_DB"
  fi
}

# The single-user run's first error line (never its STATEMENT line, which holds the password); the log is removed.
single_user_error() {
  local line; line="$(grep -m1 -E 'ERROR|FATAL' "$PG_DIR/single-user.log" 2>/dev/null || true)"
  rm -f "$PG_DIR/single-user.log"
  echo "${line:-no error line; see the server log}"
}

# TCP on 127.0.0.1 only, no Unix socket: its path (under the checkout) may hold spaces, which pg_ctl's -o does not
# quote, or exceed the 107-byte limit; every client here connects over TCP.
pg_start() {
  local run=(); [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=" start >/dev/null \
    || { log "PostgreSQL failed to start; last lines of $PG_LOG:"; tail -n 40 "$PG_LOG" >&2; exit 1; }
}

# The server takes the password of the credentials file. A cluster made before the servers took passwords trusts
# 127.0.0.1 and gets this one over that trust, then its pg_hba.conf asks for it (scram-sha-256) and the server reloads.
# One whose credentials file was made anew has another password: the server stops and takes this one in single-user
# mode, so that no connection is ever trusted for it (a trusted moment let any local account in as superuser).
pg_require_password() {
  local hba="$PG_DATA/pg_hba.conf"
  local run=(); [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  if ! "${run[@]}" grep -Eq '^[^#]*[[:space:]]trust([[:space:]]|$)' "$hba"; then
    # Only a refused password leads to the restart below; any other failure (too many connections, a server still
    # starting) is waited out, then reported.
    local deadline=$((SECONDS + READY_TIMEOUT)) err
    while ! err="$(PGPASSWORD="$PG_PASSWORD" "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1" postgres 2>&1 >/dev/null)"; do
      if grep -q 'password authentication failed' <<<"$err"; then err=refused; break; fi
      [ $SECONDS -lt $deadline ] || die "could not connect to PostgreSQL on 127.0.0.1:$PG_PORT: $err"
      sleep 0.5
    done
    [ "$err" = refused ] || return 0
    log "PostgreSQL's password is not the one in $CREDENTIALS; setting it with the server stopped (it restarts)"
    "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$READY_TIMEOUT" stop >/dev/null \
      || die "could not stop PostgreSQL to set its password"
    # On standard input, not the command line, where other accounts could read it (ps).
    printf "set password_encryption = 'scram-sha-256';\nalter role postgres password '%s';\n" "$PG_PASSWORD" \
      | ( umask 077; "${run[@]}" "$PG_BIN/postgres" --single -D "$PG_DATA" postgres >"$PG_DIR/single-user.log" 2>&1 ) \
      || { pg_start; die "could not set PostgreSQL's password: $(single_user_error)"; }
    grep -q "ERROR" "$PG_DIR/single-user.log" && { pg_start; die "could not set PostgreSQL's password: $(single_user_error)"; }
    rm -f "$PG_DIR/single-user.log"   # a failed statement is logged whole, password and all
    pg_start
    wait_port "$PG_PORT" PostgreSQL "$PG_LOG"
    return 0
  else
    log "PostgreSQL trusted local connections; setting its password and requiring it"
    trap 'pg_hba_scram' EXIT
  fi
  # On standard input, not the command line, where other accounts could read it (ps). Whatever happens, the server
  # ends up asking for passwords again: a failure must not leave it trusting 127.0.0.1.
  printf "set password_encryption = 'scram-sha-256';\nalter role postgres password '%s';\n" "$PG_PASSWORD" \
    | "${run[@]}" "$PG_BIN/psql" -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -q -v ON_ERROR_STOP=1 postgres >/dev/null \
    || { pg_hba_scram; die "could not set PostgreSQL's password"; }
  pg_hba_scram
  trap - EXIT
}

# pg_hba.conf as the servers run: TCP on 127.0.0.1 only, with a password; the server reloads it.
pg_hba_scram() {
  local hba="$PG_DATA/pg_hba.conf" run=(); [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  "${run[@]}" sh -c "umask 077; printf '%s\n' '# ops/services.sh: TCP on 127.0.0.1 only, with a password' \
    'host all all 127.0.0.1/32 scram-sha-256' 'host all all ::1/128 scram-sha-256' >'$hba.tmp' && mv '$hba.tmp' '$hba'"
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null
}

rmq_up() {
  mkdir -p "$RMQ_HOME" "$RMQ_LOG_DIR"
  cat >"$RMQ_HOME/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$RMQ_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RMQ_MGMT_PORT
EOF
  echo '[rabbitmq_management].' >"$RMQ_HOME/enabled_plugins"
  pid_alive "$RMQ_PID" "$RMQ_HOME" && same_port_or_die RabbitMQ NFC_RABBIT_PORT "$RMQ_PORT" NFC_RABBIT_MGMT_PORT "$RMQ_MGMT_PORT" \
    NFC_RABBIT_DIST_PORT "$RMQ_DIST_PORT" NFC_RABBIT_EPMD_PORT "$RMQ_EPMD_PORT"
  if pid_alive "$RMQ_PID" "$RMQ_HOME"; then
    # Ours, perhaps still booting (an up interrupted a moment ago): waited for, not taken for another process holding
    # its ports, nor started a second time on its data.
    wait_port "$RMQ_PORT" RabbitMQ "$RMQ_LOG_DIR/startup.log" || exit 1
    wait_port "$RMQ_MGMT_PORT" "RabbitMQ management" "$RMQ_LOG_DIR/startup.log" || exit 1
    log "RabbitMQ already running on 127.0.0.1:$RMQ_PORT"
    rmq_users
    return 0
  fi
  port_free_or_die "$RMQ_PORT" RabbitMQ NFC_RABBIT_PORT
  port_free_or_die "$RMQ_MGMT_PORT" "RabbitMQ management" NFC_RABBIT_MGMT_PORT
  port_free_or_die "$RMQ_DIST_PORT" "RabbitMQ distribution" NFC_RABBIT_DIST_PORT
  # An epmd on its port may serve this node (ours, outliving a node that died); one naming a node serves another's.
  if port_open "$RMQ_EPMD_PORT"; then
    local names
    names="$(rmq_env; epmd -port "$RMQ_EPMD_PORT" -names 2>/dev/null)" \
      || die "127.0.0.1:$RMQ_EPMD_PORT, epmd's port, is taken by another process; set NFC_RABBIT_EPMD_PORT to another port"
    grep -q '^name ' <<<"$names" \
      && die "the epmd on 127.0.0.1:$RMQ_EPMD_PORT serves another RabbitMQ node (another checkout's? its ops/services.sh down stops it); or set NFC_RABBIT_EPMD_PORT to another port"
  fi
  log "starting RabbitMQ on 127.0.0.1:$RMQ_PORT (management on $RMQ_MGMT_PORT); this takes 10-25 s"
  local server
  # A new session so the server survives the calling shell; its pid file is how `down` finds it. The script's pid is
  # kept for the wait (it runs as long as the server: setsid does not fork outside a process group leader), so a
  # server that dies at boot (a bad config, a full disk) fails the start at once instead of after the timeout.
  server="$(rmq_env; setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$RMQ_LOG_DIR/startup.log" 2>&1 </dev/null & echo $!)"
  wait_port "$RMQ_PORT" RabbitMQ "$RMQ_LOG_DIR/startup.log" "$server" || exit 1
  wait_port "$RMQ_MGMT_PORT" "RabbitMQ management" "$RMQ_LOG_DIR/startup.log" "$server" || exit 1
  rmq_users
}

# The broker's one user, $RMQ_USER with the generated password (administrator: the tests and benchmarks make their own
# virtual hosts); RabbitMQ's default guest/guest is removed. Done once per password (a marker holds its hash), since
# each rabbitmqctl call starts an Erlang VM. The password goes on standard input, never the command line (ps).
rmq_users() {
  local marker="$RMQ_HOME/users.done" want
  want="$(printf '%s:%s' "$RMQ_USER" "$RABBIT_PASSWORD" | sha256sum | cut -c1-64)"
  [ "$(cat "$marker" 2>/dev/null)" = "$want" ] && return 0
  # One && chain: set -e does not act inside a subshell whose status is tested, so a failed step must fail the chain
  # (or the marker would record a user that was never set up).
  (
    rmq_env
    ctl() { /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$RMQ_NODE" "$@" >/dev/null; }
    ctl await_startup &&
      { printf '%s\n' "$RABBIT_PASSWORD" | ctl add_user "$RMQ_USER" 2>/dev/null \
          || printf '%s\n' "$RABBIT_PASSWORD" | ctl change_password "$RMQ_USER"; } &&
      ctl set_user_tags "$RMQ_USER" administrator &&
      ctl set_permissions -p / "$RMQ_USER" '.*' '.*' '.*' &&
      { ctl delete_user guest 2>/dev/null || true; }
  ) || die "could not set up RabbitMQ's user $RMQ_USER (see $RMQ_LOG_DIR)"
  ( umask 077; echo "$want" >"$marker" )
  log "RabbitMQ user $RMQ_USER set up (guest removed)"
}

pg_down() {
  cd /
  if pid_alive "$PG_DATA/postmaster.pid" "$PG_DATA"; then
    local run=(); [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
    "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null && log "PostgreSQL stopped"
  else
    log "PostgreSQL not running (no live pid file)"
  fi
}

rmq_down() {
  if pid_alive "$RMQ_PID" "$RMQ_HOME"; then
    local pid; pid="$(head -n1 "$RMQ_PID")"
    (rmq_env; /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RMQ_NODE" stop >/dev/null 2>&1) || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    # Gone between the test and the kill is stopped too: not a failed `down` under set -e.
    kill -0 "$pid" 2>/dev/null && { kill -9 "$pid" 2>/dev/null || true; }
    log "RabbitMQ stopped"
  else
    log "RabbitMQ not running (no live pid file)"
    rm -f "$RMQ_PID"
    return 0
  fi
  # epmd outlives the node: stopped with it, and only then (with no node of ours running, an epmd on this port may be
  # another checkout's, whose node would lose its name service).
  (rmq_env; epmd -port "$RMQ_EPMD_PORT" -kill >/dev/null 2>&1) || true
  rm -f "$RMQ_PID"
}

print_env() {
  cat <<EOF
export NFC_PG_CONNECTION="Host=127.0.0.1;Port=$PG_PORT;Database=$PG_DB;Username=postgres;Password=$PG_PASSWORD"
export NFC_PG_ADMIN_CONNECTION="Host=127.0.0.1;Port=$PG_PORT;Database=postgres;Username=postgres;Password=$PG_PASSWORD"
export NFC_PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/$PG_DB" PGPASSFILE="$PGPASS_FILE"
export NFC_RABBIT_URI="amqp://$RMQ_USER:$RABBIT_PASSWORD@127.0.0.1:$RMQ_PORT/"
export NFC_RABBIT_MGMT_URI="http://127.0.0.1:$RMQ_MGMT_PORT/"
export NFC_SERVICES_DIR="$SVC"
export NFC_PG_PORT="$PG_PORT" NFC_RABBIT_PORT="$RMQ_PORT" NFC_RABBIT_MGMT_PORT="$RMQ_MGMT_PORT"
EOF
}

status() {
  local rc=0
  if port_open "$PG_PORT"; then echo "postgresql: running on 127.0.0.1:$PG_PORT (pid $(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null))"
  else echo "postgresql: stopped"; rc=1; fi
  if port_open "$RMQ_PORT"; then echo "rabbitmq:   running on 127.0.0.1:$RMQ_PORT, management 127.0.0.1:$RMQ_MGMT_PORT (pid $(head -n1 "$RMQ_PID" 2>/dev/null))"
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
