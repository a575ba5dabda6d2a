# RabbitMQ (with management) for ops/services.sh: its environment, start, user, stop. Sourced after the variables
# and helpers it uses (RMQ_*, pid_alive, wait_port, port_open, port_free_or_die, same_port_or_die, credentials).

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

rmq_up() {
  # Its message store holds the submissions (study ids, folder and, for listed images, patient folder names): private
  # to this account, as PostgreSQL's data is. The server is started with umask 077; folders made before are closed too.
  mkdir -p "$RMQ_HOME" "$RMQ_LOG_DIR"
  chmod -R go-rwx "$RMQ_HOME" "$RMQ_LOG_DIR" 2>/dev/null || true
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
  server="$(umask 077; rmq_env; setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$RMQ_LOG_DIR/startup.log" 2>&1 </dev/null & echo $!)"
  # Not up in time: stopped (its whole session), so that it does not go on booting on our ports, unfound by `down`
  # while its pid file is not yet written, and refuse the next `up`.
  if ! wait_port "$RMQ_PORT" RabbitMQ "$RMQ_LOG_DIR/startup.log" "$server" \
     || ! wait_port "$RMQ_MGMT_PORT" "RabbitMQ management" "$RMQ_LOG_DIR/startup.log" "$server"; then
    kill -TERM -- "-$server" 2>/dev/null || true
    exit 1
  fi
  rmq_users
}

# The broker's one user, $RMQ_USER with the generated password (administrator: the tests and benchmarks make their own
# virtual hosts); RabbitMQ's default guest/guest is removed. Done once per password (a marker holds its hash), since
# each rabbitmqctl call starts an Erlang VM. The marker lives with the broker's data, so a reset or a removed data
# folder (a fresh node, with guest again) sets the user up again. The password goes on standard input, never the
# command line (ps).
rmq_users() {
  local marker="$RMQ_HOME/mnesia/$RMQ_NODE/nfc-users.done" want
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

rmq_down() {
  if pid_alive "$RMQ_PID" "$RMQ_HOME"; then
    local pid; pid="$(head -n1 "$RMQ_PID")"
    # Bounded: a wedged node never answers, and the kill below is the way out (rabbitmqctl's own default waits for ever).
    (rmq_env; timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RMQ_NODE" stop >/dev/null 2>&1) || kill "$pid" 2>/dev/null || true
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
