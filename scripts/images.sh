#!/usr/bin/env bash
# Build the sandbox images, skipping whatever is already up to date.
#
#   scripts/images.sh [--force] [--rebuild-base] [LANG...]
#       LANG: a language id or image dir (python, c, ...); default: every language
#       --force: rebuild the language images even when up to date (layer cache still used)
#       --rebuild-base: debootstrap the base again even when up to date
#   RCE_IMAGE_JOBS=N: language images built at once (default 3; apt downloads overlap
#       with another image's unpacking and compiling)
#
# 1. rce-base:bookworm: debootstrap (minbase) -> docker import, labelled rce.hash = hash of
#    images/base/**; rebuilt only when no image with that label value exists.
# 2. the runner: cargo build --release -p rce-runner into target/runner (RCE_RUNNER_BIN=path
#    overrides, for working on images while the runner does not build; never for real images).
# 3. for each [[language]] in images/languages.toml (or only the ones named): the image
#    `<image>:latest` from images/<image without rce->/, context = a temp dir with that
#    directory's files (its Dockerfile followed by images/common.Dockerfile) + the runner
#    + images/preload/ (the preloaded launchers, as preload/; a Dockerfile that copies
#    `--from=launcher` gets images/preload/jvm-launcher.Dockerfile's build stage in front),
#    labelled rce.hash = hash(files, common.Dockerfile, runner, preload, base image id);
#    skipped when the existing image carries the same label. Then the language's
#    version_command runs in it and the first dotted number it prints becomes the label
#    rce.version, which workers serve as the language's version.
#
# Uses $DOCKER_HOST, else the one in .rce/env (run scripts/setup.sh first).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
load_env
export DOCKER_BUILDKIT=0   # the classic builder: no buildx needed, any client version

force=no
rebuild_base=no
wanted=()
for a in "$@"; do
  case "$a" in
    --force) force=yes ;;
    --rebuild-base) rebuild_base=yes ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) wanted+=("$a") ;;
  esac
done

take_lock
docker_answers "${DOCKER_HOST:-}" || die "no Docker engine answers at DOCKER_HOST=${DOCKER_HOST:-<unset>}; run scripts/setup.sh"

BASE_IMAGE=rce-base:bookworm
LOG_DIR="$RCE_STATE/logs"
mkdir -p "$LOG_DIR" "$RCE_STATE/tmp"
tmp_dirs=()
cleanup() {
  local d
  for d in "${tmp_dirs[@]}"; do remove_tree "$d"; done
}
trap cleanup EXIT

# remove_tree DIR: rm -rf, after unmounting anything a failed debootstrap left mounted inside
remove_tree() {
  local d="$1" m
  [ -n "$d" ] && [ -d "$d" ] || return 0
  awk -v p="$d/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$d"
}

# label IMAGE: the image's rce.hash label, empty if no such image
label() {
  "$DOCKER" image inspect -f '{{with .Config.Labels}}{{index . "rce.hash"}}{{end}}' "$1" 2>/dev/null || true
}
version_label() {
  "$DOCKER" image inspect -f '{{with .Config.Labels}}{{index . "rce.version"}}{{end}}' "$1" 2>/dev/null || true
}
image_id() { "$DOCKER" image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# hash_dir DIR: sha256 over the relative names and contents of every file under DIR
hash_dir() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
}

# drop_old OLD_ID NEW_ID: remove an image we replaced, if nothing tags or uses it any more
drop_old() {
  if [ -n "$1" ] && [ "$1" != "$2" ]; then
    "$DOCKER" rmi "$1" >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------- which languages
# "id image version-command" per [[language]] entry of the manifest; the command is
# shell-quoted (python3's tomllib reads the TOML, so any string the manifest holds works)
command -v python3 >/dev/null || die "python3 is missing (scripts/setup.sh installs it)"
languages="$(python3 -c '
import shlex, sys, tomllib
with open(sys.argv[1], "rb") as f:
    manifest = tomllib.load(f)
for l in manifest.get("language", []):
    print(l["id"], l["image"], shlex.join(l.get("version_command") or []))
' images/languages.toml)" || die "images/languages.toml does not parse"
[ -n "$languages" ] || die "no [[language]] entries in images/languages.toml"

selected=()
if [ ${#wanted[@]} -eq 0 ]; then
  while read -r id img _; do selected+=("$img"); done <<<"$languages"
else
  for w in "${wanted[@]}"; do
    found=""
    while read -r id img _; do
      if [ "$w" = "$id" ] || [ "$w" = "$img" ] || [ "$w" = "${img#rce-}" ]; then found="$img"; fi
    done <<<"$languages"
    [ -n "$found" ] || die "unknown language '$w'; known: $(cut -d' ' -f1 <<<"$languages" | tr '\n' ' ')"
    selected+=("$found")
  done
fi

# ---------------------------------------------------------------- base image
base_hash="$(hash_dir images/base)"
t=$(date +%s.%N)
if [ $rebuild_base = no ] && [ "$(label "$BASE_IMAGE")" = "$base_hash" ]; then
  log "$BASE_IMAGE: up to date (${base_hash:0:12}, $(elapsed "$t") s)"
else
  log "$BASE_IMAGE: building (${base_hash:0:12}) with debootstrap; log $LOG_DIR/base.log"
  command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/setup.sh installs it)"
  # shellcheck disable=SC1091
  . images/base/debootstrap.conf
  old_id="$(image_id "$BASE_IMAGE")"
  rootfs="$(mktemp -d "$RCE_STATE/tmp/rootfs.XXXXXX")"
  tmp_dirs+=("$rootfs")
  chmod 0755 "$rootfs"   # becomes the image's "/"; mktemp made it 0700
  if ! debootstrap --variant="$VARIANT" "$SUITE" "$rootfs" "${RCE_DEBIAN_MIRROR:-$MIRROR}" >"$LOG_DIR/base.log" 2>&1; then
    tail -n 30 "$LOG_DIR/base.log" >&2
    die "debootstrap failed (log: $LOG_DIR/base.log)"
  fi
  log "    debootstrap done ($(elapsed "$t") s); slimming the rootfs"
  cp -a images/base/rootfs/. "$rootfs/"
  (
    cd "$rootfs"
    # what dpkg.cfg.d/rce-excludes keeps out of later installs, out of the base too
    find usr/share/doc -xdev \( -type f -o -type l \) ! -name copyright -delete
    find usr/share/doc -xdev -mindepth 1 -depth -type d -empty -delete
    rm -rf usr/share/man/* usr/share/info/* usr/share/lintian/*
    find usr/share/locale -xdev -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    mkdir -p usr/share/man/man1   # update-alternatives (openjdk) links man pages here
    rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/cache/debconf/*-old
    find var/log -xdev -type f -delete
    rm -rf dev/* tmp/* run/*      # docker provides /dev; nothing of the build host stays
    : >etc/resolv.conf
    echo rce >etc/hostname
    chmod 1777 tmp
  )
  log "    importing ($(du -sh --apparent-size "$rootfs" | cut -f1))"
  tar --numeric-owner -C "$rootfs" -c . | "$DOCKER" import \
    --change "LABEL rce.hash=$base_hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    - "$BASE_IMAGE" >/dev/null
  remove_tree "$rootfs"
  drop_old "$old_id" "$(image_id "$BASE_IMAGE")"
  log "$BASE_IMAGE: built in $(elapsed "$t") s ($("$DOCKER" image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
fi

# ---------------------------------------------------------------- runner
# the runner goes into every language image
t=$(date +%s.%N)
if [ -n "${RCE_RUNNER_BIN:-}" ]; then
  runner="$RCE_RUNNER_BIN"
  warn "runner: using RCE_RUNNER_BIN=$runner instead of building rce-runner"
else
  # its own target dir: a build of rce running alongside (scripts/alongside-setup.sh)
  # holds target/'s lock for minutes, and the runner's few dependencies build in seconds
  runner_target="$ROOT/target/runner"
  log "runner: cargo build --release -p rce-runner (into $runner_target)"
  command -v cargo >/dev/null || die "cargo not found: install Rust (rustup), or RCE_RUNNER_BIN=<prebuilt rce-runner>"
  if ! CARGO_TARGET_DIR="$runner_target" cargo build --release -p rce-runner >"$LOG_DIR/runner.log" 2>&1; then
    tail -n 40 "$LOG_DIR/runner.log" >&2
    die "rce-runner did not build (log: $LOG_DIR/runner.log)"
  fi
  runner="$runner_target/release/rce-runner"
fi
[ -f "$runner" ] || die "runner binary $runner not found"
runner_hash="$(sha256sum "$runner" | cut -d' ' -f1)"
log "runner: $runner (${runner_hash:0:12}, $(elapsed "$t") s)"

# ---------------------------------------------------------------- language images
# The base's image id (not just its label) goes into each hash, so a rebuilt base,
# even from the same config, is picked up and the old one can be freed.
base_id="$(image_id "$BASE_IMAGE")"
COMMON_DOCKERFILE=images/common.Dockerfile
common_hash="$(sha256sum "$COMMON_DOCKERFILE" | cut -d' ' -f1)"
PRELOAD_DIR=images/preload
preload_hash="$(hash_dir "$PRELOAD_DIR")"
status_dir="$(mktemp -d "$RCE_STATE/tmp/status.XXXXXX")"
tmp_dirs+=("$status_dir")

# version_of IMG: the rce.version label for IMG, from its language's version_command
version_of() {
  local img="$1" id im quoted cmd=()
  while read -r id im quoted; do
    if [ "$im" = "$img" ]; then break; fi
  done <<<"$languages"
  [ -n "$quoted" ] || { echo unknown; return; }
  eval "cmd=($quoted)"
  "$DOCKER" run --rm --network none --entrypoint "${cmd[0]}" "$img:latest" "${cmd[@]:1}" \
    </dev/null 2>&1 | grep -oE '[0-9]+(\.[0-9]+)+' | head -n 1 || true
}

# build_one IMG N: build (or confirm) one language image and label its version; a
# failure leaves IMG in $status_dir/failed
build_one() {
  local img="$1" n="$2" dir="images/${1#rce-}" tag="$1:latest" t h old_id ctx version
  t=$(date +%s.%N)
  h="$(printf '%s\n' "$(hash_dir "$dir")" "$common_hash" "$runner_hash" "$preload_hash" "$base_id" | sha256sum | cut -d' ' -f1)"
  if [ $force = no ] && [ "$(label "$tag")" = "$h" ] && [ -n "$(version_label "$tag")" ]; then
    log "$tag ($n): up to date (${h:0:12}, version $(version_label "$tag"), $(elapsed "$t") s)"
    return 0
  fi
  log "$tag ($n): building (${h:0:12}); log $LOG_DIR/${img}.log"
  old_id="$(image_id "$tag")"
  ctx="$(mktemp -d "$RCE_STATE/tmp/ctx.XXXXXX")"
  cp -a "$dir/." "$ctx/"
  if grep -q -- '--from=launcher' "$dir/Dockerfile"; then
    # the JVM launcher's build stage goes first (images/preload/jvm-launcher.Dockerfile)
    cat "$PRELOAD_DIR/jvm-launcher.Dockerfile" "$dir/Dockerfile" >"$ctx/Dockerfile"
  fi
  cat "$COMMON_DOCKERFILE" >>"$ctx/Dockerfile"
  cp "$runner" "$ctx/rce-runner"
  chmod 0755 "$ctx/rce-runner"
  cp -a "$PRELOAD_DIR" "$ctx/preload"
  # --force-rm: a failed RUN step's container goes too (plain --rm keeps it)
  if ! "$DOCKER" build --force-rm --label "rce.hash=$h" --label "rce.base=$base_id" -t "$tag" "$ctx" \
      </dev/null >"$LOG_DIR/${img}.log" 2>&1; then
    remove_tree "$ctx"
    tail -n 25 "$LOG_DIR/${img}.log" | sed "s/^/    $img | /" >&2
    warn "$tag: build FAILED after $(elapsed "$t") s (log: $LOG_DIR/${img}.log)"
    touch "$status_dir/failed.$img"
    return 0
  fi
  remove_tree "$ctx"
  version="$(version_of "$img")"
  if [ -z "$version" ]; then
    warn "$tag: its version_command printed no version; labelled rce.version=unknown"
    version=unknown
  fi
  printf 'FROM %s\nLABEL rce.version=%s\n' "$tag" "$version" \
    | "$DOCKER" build -q -t "$tag" - >>"$LOG_DIR/${img}.log" 2>&1 \
    || { warn "$tag: labelling the version failed"; touch "$status_dir/failed.$img"; return 0; }
  drop_old "$old_id" "$(image_id "$tag")"
  log "$tag ($n): built in $(elapsed "$t") s, version $version ($("$DOCKER" image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# the distinct images asked for (several ids could share one), built RCE_IMAGE_JOBS at once
jobs_max="${RCE_IMAGE_JOBS:-3}"
mapfile -t images < <(printf '%s\n' "${selected[@]}" | awk '!seen[$0]++')
log "language images: ${#images[@]}, $jobs_max at a time"
i=0
for img in "${images[@]}"; do
  i=$((i + 1))
  [ -f "images/${img#rce-}/Dockerfile" ] || die "images/${img#rce-}/Dockerfile missing for $img"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  build_one "$img" "$i/${#images[@]}" &
done
wait
failed=()
for f in "$status_dir"/failed.*; do [ -e "$f" ] && failed+=("${f##*/failed.}"); done
# images of ours replaced earlier (an old base) are freed once nothing uses them
for old in $("$DOCKER" images -q --filter "dangling=true" --filter "label=rce.hash" 2>/dev/null || true); do
  "$DOCKER" rmi "$old" >/dev/null 2>&1 || true
done
[ ${#failed[@]} -eq 0 ] || die "images that failed to build: ${failed[*]}"
log "images done"
