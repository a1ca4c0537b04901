#!/usr/bin/env bash
# Figures for the action's install step (action/install.sh with `version:`), side by side:
#   1. from a release: the prebuilt binary downloaded from a local stand-in for the release host
#      (python3 -m http.server), checked against SHA256SUMS, installed;
#   2. from source: `cargo install --locked --path .` (what install.sh falls back to when the release
#      has no asset), into a temp root and a temp target dir (a cold compile, as on a cache miss).
# cargo-auditable is taken from PATH in both (not timed). Prints, asserts nothing.
# Usage: benchmarks/install.sh [RELEASE_DIR]   a directory .github/release/build.sh wrote (default: a
#        stand-in packaged from target/debug/cargo-tiny, the same script's `package`)
# NO_SOURCE=1 skips the from-source compile (minutes).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)"
triple="$(uname -m)-unknown-linux-musl"
work="$(mktemp -d)"
server=""
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/host/v$version"
if [ -n "${1:-}" ]; then
  cp "$1"/* "$work/host/v$version/"
else
  cargo build --locked --manifest-path "$repo/Cargo.toml" -q
  "$repo/.github/release/build.sh" package "$work/host/v$version" "$version" "$triple" "$repo/target/debug/cargo-tiny"
  "$repo/.github/release/build.sh" sums "$work/host/v$version"
fi
asset=$("$repo/.github/release/build.sh" names "$version" "$triple" | cut -d ' ' -f 2)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$work/host" "$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

# A PATH without this machine's own cargo-tiny (install.sh would find it and install nothing).
mkdir -p "$work/tools"
for t in cargo rustc rustup cargo-auditable musl-gcc; do
  if p=$(command -v "$t"); then ln -s "$p" "$work/tools/$t"; fi
done
tools_path="$work/tools:/usr/local/bin:/usr/bin:/bin"

ms() { date +%s%3N; }
echo "cargo-tiny $version, $triple; release asset $asset: $(stat -c %s "$work/host/v$version/$asset") bytes"
start=$(ms)
CARGO_HOME="$work/prebuilt" PATH="$work/prebuilt/bin:$tools_path" GITHUB_ACTION_PATH="$repo" \
  INPUT_TARGET="$triple" INPUT_VERSION="v$version" CARGO_TINY_RELEASE_URL="http://127.0.0.1:$port" \
  "$repo/action/install.sh" >"$work/prebuilt.log" 2>&1 || { cat "$work/prebuilt.log"; exit 1; }
prebuilt=$(( $(ms) - start ))
if ! grep -q "^cargo-tiny $version: $asset" "$work/prebuilt.log" || [ ! -x "$work/prebuilt/bin/cargo-tiny" ]; then
  cat "$work/prebuilt.log"; echo "install.sh did not install the release binary"; exit 1
fi
printf 'install.sh, prebuilt from the release:  %6.1f s\n' "$(awk -v m="$prebuilt" 'BEGIN { print m / 1000 }')"

if [ "${NO_SOURCE:-}" != 1 ]; then
  start=$(ms)
  CARGO_TARGET_DIR="$work/source-target" cargo install --locked --quiet --path "$repo" --root "$work/source" 2>&1 | tail -3
  source=$(( $(ms) - start ))
  rm -rf "$work/source-target"
  printf 'cargo install --locked --path . (cold): %6.1f s\n' "$(awk -v m="$source" 'BEGIN { print m / 1000 }')"
  printf 'ratio: %.0fx\n' "$(awk -v s="$source" -v p="$prebuilt" 'BEGIN { print s / p }')"
fi
echo "load average: $(cut -d ' ' -f 1-3 /proc/loadavg) on $(nproc) CPUs"
