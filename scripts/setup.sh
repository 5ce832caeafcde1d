#!/usr/bin/env bash
# Bring a Debian 12 machine (as root, no stdin needed) to the point where rce runs and
# its tests pass: Debian packages, a Docker engine, Redis, .rce/env, the sandbox images.
# Idempotent: a second run with nothing changed only checks, and takes seconds.
#
# Reuses what already answers (an engine at $DOCKER_HOST or the default socket, a Redis
# at $RCE_REDIS__URL / $RCE_REDIS_URL / 127.0.0.1:6379); otherwise starts its own, with
# all state under .rce/ (git-ignored). `scripts/services.sh stop` stops only those.
#
# Environment:
#   RCE_SKIP_IMAGES=1   do everything but building images (make images uses this)
#   RCE_LANGS="a b"     build only these language images (default: all in languages.toml)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1

mkdir -p "$RCE_STATE"
take_lock

# ---------------------------------------------------------------- 1. packages
log "1/5 packages: checking docker.io redis-server debootstrap docker-compose chromium prometheus python3 runsc"
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]; }
has_candidate() { local p; p="$(apt-cache policy "$1" 2>/dev/null || true)"; [[ "$p" == *"Candidate: "[0-9]* ]]; }
updated=no
apt_update() { if [ $updated = no ]; then log "    apt-get update"; apt-get update -qq; updated=yes; fi; }

missing=()
# chromium: the browser the web editor's end-to-end tests drive (web/e2e).
# prometheus brings promtool, which tests/deploy_manifests.rs uses to check deploy/prometheus.
# python3 reads images/languages.toml for scripts/images.sh (tomllib).
for p in docker.io redis-server debootstrap docker-compose chromium prometheus python3; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get"
  apt_update
  log "    apt-get install -y ${missing[*]}"
  apt-get install -y -q "${missing[@]}"
else
  log "    docker.io redis-server debootstrap docker-compose chromium prometheus python3: installed"
fi
# runsc (gVisor) is optional: install it when Debian has it, never fail without it.
if [ -x /usr/bin/runsc ] || installed runsc; then
  log "    runsc: installed"
elif command -v apt-get >/dev/null; then
  # Only refresh the lists for runsc if they were never fetched (keeps reruns fast).
  if ! has_candidate runsc && [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e '^lock$' -e '^partial$' -e '^auxfiles$' || true)" ]; then
    apt_update || true
  fi
  if has_candidate runsc; then
    log "    apt-get install -y runsc"
    apt-get install -y -q runsc || warn "runsc did not install; continuing without gVisor"
  else
    log "    runsc: not available from apt; continuing without gVisor"
  fi
fi

# ---------------------------------------------------------------- 2. docker engine
log "2/5 docker engine"
mkdir -p "$DOCKERD_DIR"
# daemon.json: always passed, so a later runsc install only needs a reload (SIGHUP).
if [ -x /usr/bin/runsc ]; then
  want_config='{"runtimes":{"runsc":{"path":"/usr/bin/runsc","runtimeArgs":["--platform=ptrace","--network=none"]}}}'
else
  want_config='{}'
fi
config_changed=no
if [ "$(cat "$DOCKERD_CONFIG" 2>/dev/null || true)" != "$want_config" ]; then
  printf '%s\n' "$want_config" >"$DOCKERD_CONFIG.tmp" && mv "$DOCKERD_CONFIG.tmp" "$DOCKERD_CONFIG"
  config_changed=yes
fi

wait_docker() { # HOST SECONDS
  local i
  for ((i = 0; i < $2 * 2; i++)); do
    docker_answers "$1" && return 0
    sleep 0.5
  done
  return 1
}

own_host="unix://$DOCKERD_SOCK"
docker_host=""
if own_pid="$(pid_alive "$DOCKERD_PIDFILE" dockerd)"; then
  if [ $config_changed = yes ]; then
    log "    daemon.json changed: reloading our dockerd (pid $own_pid)"
    kill -HUP "$own_pid"
  fi
fi
if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$own_host" ]; then
  if docker_answers "$DOCKER_HOST"; then
    docker_host="$DOCKER_HOST"
    log "    using the engine at \$DOCKER_HOST=$docker_host"
  else
    warn "nothing answers at \$DOCKER_HOST=$DOCKER_HOST; ignoring it"
  fi
fi
if [ -z "$docker_host" ] && [ -n "$own_pid" ]; then
  wait_docker "$own_host" 30 || die "our dockerd (pid $own_pid) does not answer at $own_host; see $DOCKERD_LOG"
  docker_host="$own_host"
  log "    our dockerd is running (pid $own_pid) at $docker_host"
fi
if [ -z "$docker_host" ] && docker_answers "unix:///var/run/docker.sock"; then
  docker_host="unix:///var/run/docker.sock"
  log "    using the engine at the default socket $docker_host"
fi
if [ -z "$docker_host" ]; then
  command -v dockerd >/dev/null || die "no dockerd binary (docker.io not installed?)"
  mkdir -p "$DOCKERD_DIR/data"
  log "    starting dockerd: data-root $DOCKERD_DIR/data, exec-root $DOCKERD_EXEC_ROOT, socket $DOCKERD_SOCK"
  rm -f "$DOCKERD_SOCK"
  # setsid + no stdin/stdout ties: it outlives this script, make and the terminal.
  setsid dockerd \
    --data-root "$DOCKERD_DIR/data" \
    --exec-root "$DOCKERD_EXEC_ROOT" \
    --host "$own_host" \
    --pidfile "$DOCKERD_PIDFILE" \
    --config-file "$DOCKERD_CONFIG" \
    </dev/null >>"$DOCKERD_LOG" 2>&1 9>&- &
  started_pid=$!
  if ! wait_docker "$own_host" 30; then
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    kill "$started_pid" 2>/dev/null || true
    die "dockerd did not answer within 30 s (log: $DOCKERD_LOG)"
  fi
  docker_host="$own_host"
  log "    dockerd answers (pid $(cat "$DOCKERD_PIDFILE"), log $DOCKERD_LOG)"
fi
export DOCKER_HOST="$docker_host"
runtimes="$("$DOCKER" info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>/dev/null || true)"
log "    engine $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null || echo '?'), runtimes: ${runtimes:-?}"

# ---------------------------------------------------------------- 3. redis
log "3/5 redis"
redis_ping() { [ "$(timeout 5 redis-cli -u "$1" ping 2>/dev/null || true)" = PONG ]; }
redis_url=""
for candidate in "${RCE_REDIS__URL:-}" "${RCE_REDIS_URL:-}"; do
  if [ -n "$candidate" ]; then
    if redis_ping "$candidate"; then
      redis_url="$candidate"
      log "    using the Redis that answers at $redis_url (from the environment)"
      break
    fi
    warn "no PONG from $candidate; ignoring it"
  fi
done
if [ -z "$redis_url" ] && redis_ping "$REDIS_DEFAULT_URL"; then
  redis_url="$REDIS_DEFAULT_URL"
  if pid="$(redis_pid)"; then
    log "    our redis-server is running (pid $pid) at $redis_url"
  else
    log "    using the Redis that answers at $redis_url"
  fi
fi
if [ -z "$redis_url" ]; then
  command -v redis-server >/dev/null || die "no redis-server binary"
  mkdir -p "$REDIS_DIR"
  log "    starting redis-server on 127.0.0.1:6379 (dir $REDIS_DIR)"
  redis-server --daemonize yes --port 6379 --bind 127.0.0.1 \
    --dir "$REDIS_DIR" --appendonly yes \
    --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" </dev/null 9>&-
  for ((i = 0; i < 60; i++)); do
    redis_ping "$REDIS_DEFAULT_URL" && break
    sleep 0.5
  done
  redis_ping "$REDIS_DEFAULT_URL" || { tail -n 20 "$REDIS_LOG" >&2 || true; die "redis did not answer PING (log: $REDIS_LOG)"; }
  redis_url="$REDIS_DEFAULT_URL"
  log "    redis answers (pid $(cat "$REDIS_PIDFILE"))"
fi

# ---------------------------------------------------------------- 4. env file
log "4/5 writing $ENV_FILE"
new_env="# Written by scripts/setup.sh; source it: . .rce/env
export DOCKER_HOST=$docker_host
export RCE_REDIS__URL=$redis_url"
if [ "$(cat "$ENV_FILE" 2>/dev/null || true)" != "$new_env" ]; then
  printf '%s\n' "$new_env" >"$ENV_FILE.tmp" && mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "    updated"
else
  log "    unchanged"
fi
sed 's/^/    | /' "$ENV_FILE"

# ---------------------------------------------------------------- 5. images
if [ "${RCE_SKIP_IMAGES:-0}" = 1 ]; then
  log "5/5 images: skipped (RCE_SKIP_IMAGES=1)"
else
  log "5/5 images"
  # shellcheck disable=SC2086
  "$ROOT/scripts/images.sh" ${RCE_LANGS:-}
fi
log "setup done"
