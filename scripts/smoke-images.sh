#!/usr/bin/env bash
# Hello world in every language image (or the ones named), under the sandbox's shape:
# read-only root, tmpfs /sandbox (exec) and /tmp with mode 1777, uid 1001, no network,
# no capabilities, memory/pids limits, and only the environment rce-runner gives user
# code (PATH, HOME=/sandbox, TMPDIR=/tmp, LANG). The compile and run argv come from
# images/languages.toml, as the server uses them. It bypasses rce-runner itself.
#
#   scripts/smoke-images.sh [LANG...]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
load_env
docker_answers "${DOCKER_HOST:-}" || die "no Docker engine; run scripts/setup.sh"

hello() {
  case "$1" in
    python)     echo 'import sys; print("hello, rce", sum(range(10)), sys.version.split()[0])' ;;
    javascript) echo 'console.log("hello, rce", [...Array(10).keys()].reduce((a, b) => a + b), process.version)' ;;
    c)          printf '%s\n' '#include <stdio.h>' '#include <math.h>' \
                  'int main(void) { printf("hello, rce %d %.0f\n", 45, sqrt(2025.0)); return 0; }' ;;
    cpp)        printf '%s\n' '#include <iostream>' '#include <vector>' '#include <numeric>' \
                  'int main() { std::vector<int> v(10); std::iota(v.begin(), v.end(), 0);' \
                  '  std::cout << "hello, rce " << std::accumulate(v.begin(), v.end(), 0) << "\n"; }' ;;
    java)       printf '%s\n' 'public class Main { public static void main(String[] a) {' \
                  '  System.out.println("hello, rce " + java.util.stream.IntStream.range(0, 10).sum() + " " + System.getProperty("java.version")); } }' ;;
    go)         printf '%s\n' 'package main' 'import ("fmt"; "runtime"; "strings")' \
                  'func main() { fmt.Println("hello, rce", 45, runtime.Version(), strings.ToUpper("ok")) }' ;;
    rust)       printf '%s\n' 'fn main() { let s: i32 = (0..10).sum(); println!("hello, rce {s}"); }' ;;
    ruby)       echo 'puts "hello, rce #{(0...10).sum} #{RUBY_VERSION}"' ;;
    bash)       echo 'echo "hello, rce $(( 45 )) $BASH_VERSION $(echo 2+2 | bc)"' ;;
    *)          echo 'unknown' ;;
  esac
}

# "id image file compile-argv run-argv" per language, separated by \x1f (argv shell-quoted)
manifest="$(awk '
  function flush() { if (id != "") printf "%s\037%s\037%s\037%s\037%s\n", id, img, file, comp, run; id = img = file = comp = run = "" }
  function str(s) { sub(/^[^"]*"/, "", s); sub(/".*/, "", s); return s }
  function argv(s,   out, n, i, parts) {
    sub(/^[^\[]*\[[ \t]*/, "", s); sub(/[ \t]*\][ \t]*$/, "", s)
    n = split(s, parts, /"[ \t]*,[ \t]*"/); out = ""
    for (i = 1; i <= n; i++) { gsub(/^"|"$/, "", parts[i]); out = out (i > 1 ? " " : "") "\047" parts[i] "\047" }
    return out
  }
  /^\[/                   { flush(); next }
  /^[ \t]*id[ \t]*=/      { id = str($0) }
  /^[ \t]*image[ \t]*=/   { img = str($0) }
  /^[ \t]*file[ \t]*=/    { file = str($0) }
  /^[ \t]*compile[ \t]*=/ { comp = argv($0) }
  /^[ \t]*run[ \t]*=/     { run = argv($0) }
  END { flush() }
' images/languages.toml)"

failed=()
while IFS=$'\x1f' read -r id img file comp run; do
  if [ $# -gt 0 ] && [[ " $* " != *" $id "* ]]; then continue; fi
  src="$(hello "$id")"
  script="cat > $file"
  [ -n "$comp" ] && script="$script && s=\$(date +%s%N) && $comp && echo \"compile: \$(( (\$(date +%s%N) - s) / 1000000 )) ms\" >&2"
  script="$script && s=\$(date +%s%N) && $run && echo \"run: \$(( (\$(date +%s%N) - s) / 1000000 )) ms\" >&2"
  t=$(date +%s.%N)
  if out="$(printf '%s\n' "$src" | "$DOCKER" run --rm -i --network none --read-only \
      --tmpfs /sandbox:rw,exec,nosuid,nodev,size=256m,mode=1777 \
      --tmpfs /tmp:rw,exec,nosuid,nodev,size=256m,mode=1777 \
      --user 1001:1001 --workdir /sandbox --cap-drop ALL --security-opt no-new-privileges \
      --memory 1056m --memory-swap 1056m --pids-limit 272 --cpus 1 \
      --ulimit nofile=256:256 --ulimit core=0 \
      --entrypoint env "$img:latest" -i \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/sandbox TMPDIR=/tmp LANG=C.UTF-8 sh -c "$script" 2>&1)" \
      && grep -q '^hello, rce' <<<"$out"; then
    log "$id ($img): ok in $(elapsed "$t") s: $(tr '\n' ' ' <<<"$out")"
  else
    log "$id ($img): FAILED after $(elapsed "$t") s:"
    sed 's/^/    | /' <<<"$out"
    failed+=("$id")
  fi
done <<<"$manifest"
[ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]}"
