# PostgreSQL 15 for ops/services.sh: its folder, start (with a password), stop. Sourced after the variables
# and helpers it uses (PG_*, SVC, pid_alive, wait_port, port_free_or_die, same_port_or_die, credentials).

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
  # The path as an argument, not pasted into the script: a quote in the checkout's path broke it.
  "${run[@]}" sh -c 'umask 077; printf "%s\n" "# ops/services.sh: TCP on 127.0.0.1 only, with a password" \
    "host all all 127.0.0.1/32 scram-sha-256" "host all all ::1/128 scram-sha-256" >"$1.tmp" && mv "$1.tmp" "$1"' sh "$hba"
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null
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
