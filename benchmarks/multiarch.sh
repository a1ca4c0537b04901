#!/usr/bin/env bash
# Figures for `cargo tiny build --platform linux/amd64,linux/arm64` on examples/http-service after
# `doctor --fix` (reqwest + rustls: ring compiles C, with zig for arm64): per platform, the cold
# compile time (a fresh target dir), the binary size and the layer size; the tarball size. Prints,
# asserts nothing. Needs the aarch64 musl target and zig (`cargo tiny setup --platform linux/arm64`).
# Usage: benchmarks/multiarch.sh   (builds cargo-tiny in release mode first)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
tiny="$repo/target/release/cargo-tiny"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo/examples/http-service" "$work/http-service"
rm -rf "$work/http-service/target"
cd "$work/http-service"
"$tiny" tiny doctor --fix >/dev/null 2>&1 || true

started=$(date +%s)
"$tiny" tiny build -v --platform linux/amd64,linux/arm64 --message-format json \
  >"$work/messages.json" 2>"$work/status.txt"
total=$(( $(date +%s) - started ))

# "Timing linux/arm64 compiled in 189.1s" (cargo's own run for that platform).
grep -E '^ +Timing linux/' "$work/status.txt" | sed 's/^ *Timing /compile /'
jq -r 'select(.reason == "binary") | "binary  \(.target): \(.size) bytes"' "$work/messages.json"
jq -r 'select(.reason == "image-index") | .platforms[] | "layer   \(.platform): \(.compressed_size) bytes (gzip)"' "$work/messages.json"
jq -r 'select(.reason == "image-index") | "tarball: \(.tarball_size) bytes, both platforms"' "$work/messages.json"
echo "total wall time of the build: ${total}s"
