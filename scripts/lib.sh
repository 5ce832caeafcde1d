# Shared helpers for scripts/*.sh (sourced, not run). Bash only.
# Every path the scripts own lives under $RCE_STATE (= <project>/.rce, git-ignored),
# except the dockerd exec-root (and, if the project path is long, its socket), which
# must be short: /run/rce-<hash of the project dir>.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RCE_STATE="$ROOT/.rce"
ENV_FILE="$RCE_STATE/env"
PROJECT_HASH="$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"

DOCKERD_DIR="$RCE_STATE/docker"
DOCKERD_PIDFILE="$DOCKERD_DIR/dockerd.pid"
DOCKERD_LOG="$DOCKERD_DIR/dockerd.log"
DOCKERD_CONFIG="$DOCKERD_DIR/daemon.json"
DOCKERD_EXEC_ROOT="/run/rce-$PROJECT_HASH"
# unix socket paths are limited to 107 bytes; keep a margin
if [ "${#DOCKERD_DIR}" -le 80 ]; then
  DOCKERD_SOCK="$DOCKERD_DIR/docker.sock"
else
  DOCKERD_SOCK="$DOCKERD_EXEC_ROOT.sock"
fi

REDIS_DIR="$RCE_STATE/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_DEFAULT_URL="redis://127.0.0.1:6379/"

# The Debian client matches the Debian engine; any client works (API negotiation).
if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi

# log lines show seconds since the outermost script started
_t0="${RCE_LOG_T0:-$(date +%s.%N)}"
export RCE_LOG_T0="$_t0"
log()  { printf '[%6ss] %s\n' "$(elapsed "$_t0")" "$*"; }
warn() { log "WARNING: $*" >&2; }
die()  { log "ERROR: $*" >&2; exit 1; }

# seconds since an earlier `date +%s.%N`
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# docker_answers [DOCKER_HOST value]: does an engine answer there?
docker_answers() {
  DOCKER_HOST="$1" timeout 10 "$DOCKER" info >/dev/null 2>&1
}

# pid_alive PIDFILE NAME: the pid in PIDFILE is running and is the program NAME
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -d "/proc/$pid" ] || return 1
  [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = "$2" ] || return 1
  echo "$pid"
}

# redis_pid: pid of the redis-server setup.sh started, if it is still running
# (Debian's /usr/bin/redis-server is a symlink to redis-check-rdb)
redis_pid() {
  pid_alive "$REDIS_PIDFILE" redis-check-rdb || pid_alive "$REDIS_PIDFILE" redis-server
}

# take_lock: one setup/images run at a time (several engineers and make targets may
# run them at once). Daemons started later must not inherit fd 9 (start them with
# `9>&-`), or they would hold the lock forever. Nested scripts inherit the lock.
take_lock() {
  [ "${RCE_LOCK_HELD:-}" = 1 ] && return 0
  mkdir -p "$RCE_STATE"
  exec 9>"$RCE_STATE/setup.lock"
  if ! flock -n 9; then
    log "another setup/images run holds $RCE_STATE/setup.lock; waiting for it"
    flock -w 1800 9 || die "timed out waiting for $RCE_STATE/setup.lock"
  fi
  export RCE_LOCK_HELD=1
}

# Pick up the environment setup.sh wrote unless the caller set it already.
load_env() {
  if [ -f "$ENV_FILE" ]; then
    local saved_host="${DOCKER_HOST:-}"
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    if [ -n "$saved_host" ]; then DOCKER_HOST="$saved_host"; fi
    export DOCKER_HOST
  fi
}
