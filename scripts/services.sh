#!/usr/bin/env bash
# The services scripts/setup.sh started (its own dockerd and redis-server), by pid file only:
#
#   scripts/services.sh status    what is running, and where
#   scripts/services.sh stop      stop them (never anything else: engines or Redis servers
#                                 that setup found already running are left alone)
#
# Start them again with scripts/setup.sh (RCE_SKIP_IMAGES=1 to skip the image check).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# stop_pid NAME PID SECONDS: SIGTERM, wait, then SIGKILL as the last resort
stop_pid() {
  local name="$1" pid="$2" i
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < $3 * 4; i++)); do
    [ -d "/proc/$pid" ] || { log "    $name stopped"; return 0; }
    sleep 0.25
  done
  warn "$name (pid $pid) still running after $3 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd="${1:-status}"
case "$cmd" in
  stop)
    if pid="$(redis_pid)"; then
      stop_pid redis-server "$pid" 20   # SIGTERM: redis writes its AOF and exits
      rm -f "$REDIS_PIDFILE"
    else
      log "redis-server: not started by setup (no live $REDIS_PIDFILE)"
    fi
    if pid="$(pid_alive "$DOCKERD_PIDFILE" dockerd)"; then
      # dockerd stops its containers (10 s grace each, in parallel) and its containerd
      stop_pid dockerd "$pid" 45
    else
      log "dockerd: not started by setup (no live $DOCKERD_PIDFILE)"
    fi
    ;;
  status)
    if pid="$(pid_alive "$DOCKERD_PIDFILE" dockerd)"; then
      log "dockerd: running, pid $pid, DOCKER_HOST=unix://$DOCKERD_SOCK"
    else
      log "dockerd: not running (from setup)"
    fi
    if pid="$(redis_pid)"; then
      log "redis-server: running, pid $pid, $REDIS_DEFAULT_URL"
    else
      log "redis-server: not running (from setup)"
    fi
    [ -f "$ENV_FILE" ] && sed 's/^/    | /' "$ENV_FILE"
    ;;
  *)
    echo "usage: $0 status|stop" >&2
    exit 2
    ;;
esac
