#!/usr/bin/env bash
# Which compile cache the GitHub Action should restore by default: the second CI run of
# `cargo tiny build` on examples/http-service (152 packages in its Cargo.lock after doctor --fix) under
#   (a) sccache, its local disk cache directory restored (what the action's sccache cache gives),
#       the target directory empty;
#   (b) the target directory restored (what actions/cache of target/ gives), the sources freshly
#       checked out (every file's mtime new, as a git checkout makes it);
#   (c) nothing: an empty target directory, no sccache (a cold compile, every run).
# Also the first run under sccache (the cost of filling its cache) and the size of each cache.
# Prints wall and CPU seconds (GNU time), asserts nothing. Under sccache the compiles run in its
# server, outside the timed process: compare the wall times.
# Usage: benchmarks/ci-cache.sh        (CARGO_TINY=path/to/cargo-tiny to time another binary)
# Needs sccache on PATH (.ci/run installs it into .ci/.venv). Takes three cold builds.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${CARGO_TINY:-}" ]; then
  cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
  CARGO_TINY="$repo/target/release/cargo-tiny"
fi
command -v sccache >/dev/null || { echo "sccache is not on PATH" >&2; exit 1; }
work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
cleanup() {
  SCCACHE_SERVER_PORT=$port sccache --stop-server >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cp -r "$repo/examples/http-service" "$work/project"
cd "$work/project"
# Its OpenSSL does not link for musl: the rustls fix doctor makes (the builds below verify it).
"$CARGO_TINY" tiny doctor --fix --no-check -q >/dev/null
cargo fetch -q
target="$work/target"
# The same target path every run, as a CI runner's workspace is.
build=("$CARGO_TINY" tiny build --target-dir "$target" -q)
timed() { # LABEL COMMAND...: one line, wall and CPU seconds
  local label=$1 wall user sys
  shift
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r wall user sys <"$work/time"
  printf '%-52s %8.1f s wall %8.1f s CPU\n' "$label" "$wall" "$(echo "$user + $sys" | bc)"
}
fresh_checkout() { find . -path ./target -prune -o -type f -exec touch {} +; }
size() { du -sh "$1" | cut -f1; }

echo "examples/http-service, $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"
# (c) nothing
rm -rf "$target"
timed "(c) nothing restored (cold compile)" "${build[@]}"
# (b) target/ restored, sources checked out anew
fresh_checkout
timed "(b) target dir restored ($(size "$target"))" "${build[@]}"
# (a) sccache: the first run fills the cache, the second reads it with an empty target dir.
export RUSTC_WRAPPER=sccache SCCACHE_DIR="$work/sccache" SCCACHE_SERVER_PORT=$port \
  SCCACHE_IDLE_TIMEOUT=0 SCCACHE_CACHE_SIZE=5G
sccache --start-server >/dev/null
rm -rf "$target"
timed "(a0) sccache, first run (fills the cache)" "${build[@]}"
rm -rf "$target"
fresh_checkout
sccache --zero-stats >/dev/null 2>&1
timed "(a) sccache dir restored ($(size "$SCCACHE_DIR")), empty target" "${build[@]}"
sccache --show-stats | grep -E 'Cache hits|Cache misses|Non-cacheable calls' | sed 's/^/    /'
