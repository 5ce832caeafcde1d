#!/usr/bin/env bash
# Run a Rust build while scripts/setup.sh installs the services and builds the sandbox
# images: the build wants the CPUs, the image builds mostly wait on downloads and
# unpacking, so together they take little more than the longer of the two (on a fresh
# 2-core machine, make run's release build of rce takes about 9 minutes, the images 7).
#
#   scripts/alongside-setup.sh COMMAND...     e.g. cargo build --release --bin rce
#
# Setup's progress is printed as usual; the command's output goes to .rce/logs/build.log,
# whose tail is printed if it fails. Exits non-zero if either fails; when setup fails,
# the build (its own process group) is stopped rather than waited for.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ $# -gt 0 ] || die "usage: scripts/alongside-setup.sh COMMAND..."
mkdir -p "$RCE_STATE/logs"
build_log="$RCE_STATE/logs/build.log"

log "build: $* (alongside setup; log $build_log)"
set -m   # job control: the build gets its own process group, to stop all of it if need be
"$@" >"$build_log" 2>&1 </dev/null &
build=$!
set +m
stop_build() { kill -TERM -- "-$build" 2>/dev/null || true; }
trap stop_build INT TERM

if ! scripts/setup.sh </dev/null; then
  stop_build
  wait "$build" 2>/dev/null || true
  die "setup failed; the build was stopped"
fi
log "setup done; waiting for the build"
if ! wait "$build"; then
  tail -n 40 "$build_log" >&2
  die "build failed: $* (log: $build_log)"
fi
log "build done: $*"
