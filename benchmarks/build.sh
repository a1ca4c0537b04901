#!/usr/bin/env bash
# Figures for `cargo tiny build` on examples/hello: binary sizes with and without the size profile,
# and the wall time of a no-op rebuild against `cargo auditable build` alone. Prints, asserts nothing.
# Usage: benchmarks/build.sh   (builds cargo-tiny in release mode first)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
tiny="$repo/target/release/cargo-tiny"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo/examples/hello" "$work/hello"
rm -rf "$work/hello/target"
cd "$work/hello"

size_of() { "$tiny" tiny build --no-image -q --message-format json "$@" | sed -n 's/.*"size":\([0-9]*\).*/\1/p'; }
with=$(size_of)
without=$(size_of --no-size-profile)
abort=$(size_of --panic-abort)
size_of >/dev/null # back to the default flags, so the timings below are no-op rebuilds
printf 'hello binary, size profile:            %8d bytes\n' "$with"
printf 'hello binary, size profile + panic=abort: %5d bytes\n' "$abort"
printf 'hello binary, plain release profile:   %8d bytes\n' "$without"
printf 'saved by the size profile:             %8d bytes (%d%%)\n' "$((without - with))" "$(( (without - with) * 100 / without ))"

cargo auditable build --release --target x86_64-unknown-linux-musl -q
if command -v hyperfine >/dev/null; then
  hyperfine -N -w 3 -r 20 \
    "$tiny tiny build --no-image -q" \
    "cargo auditable build --release --target x86_64-unknown-linux-musl -q"
else
  for cmd in "$tiny tiny build --no-image -q" "cargo auditable build --release --target x86_64-unknown-linux-musl -q"; do
    start=$(date +%s%N); for _ in $(seq 20); do $cmd; done; end=$(date +%s%N)
    printf '%-70s %6.1f ms\n' "$cmd" "$(echo "($end - $start) / 20 / 1000000" | bc -l)"
  done
fi
