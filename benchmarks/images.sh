#!/usr/bin/env bash
# Image figures for the table of README.md and docs/src/introduction.md: for each example, binary size, tarball size, gzip layer size and
# SBOM component count, from `cargo tiny build --message-format json`. http-service is built after
# `cargo tiny doctor --fix` (on a copy), since its native-tls default cannot link for musl.
# Prints, asserts nothing. Usage: benchmarks/images.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
tiny="$repo/target/release/cargo-tiny"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"

kib() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.2f MiB", b / 1048576; else printf "%.1f KiB", b / 1024 }'; }
printf '%-26s %12s %12s %12s %6s %7s\n' example/bin binary tarball "gzip layer" sbom seconds
for ex in hello workspace http-service; do
  cp -r "$repo/examples/$ex" "$work/$ex"
  rm -rf "$work/$ex/target"
  if [ "$ex" = http-service ]; then
    "$tiny" tiny doctor -q --manifest-path "$work/$ex/Cargo.toml" --fix >/dev/null
  fi
  start=$(date +%s)
  out=$("$tiny" tiny build -q --message-format json --manifest-path "$work/$ex/Cargo.toml")
  secs=$(( $(date +%s) - start ))
  while read -r bin; do
    size=$(jq -r --arg b "$bin" 'select(.reason == "binary" and .bin == $b) | .size' <<<"$out")
    img=$(jq -c --arg b "$bin" 'select(.reason == "image" and .bin == $b)' <<<"$out")
    printf '%-26s %12s %12s %12s %6s %7s\n' "$ex/$bin" "$(kib "$size")" \
      "$(kib "$(jq .tarball_size <<<"$img")")" "$(kib "$(jq .compressed_size <<<"$img")")" \
      "$(jq .sbom_components <<<"$img")" "$secs"
  done < <(jq -r 'select(.reason == "binary") | .bin' <<<"$out")
done
