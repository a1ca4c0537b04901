#!/usr/bin/env bash
# Peak memory (max RSS of the process tree, GNU time's %M) and wall time of the image step of
# `cargo tiny build` for examples/hello with a sparse `files` source of SIZE (default 1G; sparse: no
# disk used), for each compression. The package is compiled once first, so the measured runs only
# build the image. Prints, asserts nothing. Usage: benchmarks/large_source.sh [SIZE] [COMPRESSIONS…]
# TINY=/path/to/cargo-tiny measures that binary instead of a release build of this checkout;
# BEFORE=/path/to/an/older/cargo-tiny measures that one too, for a before/after figure.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
size="${1:-1G}"
shift || true
compressions=("${@:-gzip zstd}")
read -r -a compressions <<<"${compressions[*]}"
if [ -z "${TINY:-}" ]; then
  cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
  TINY="$repo/target/release/cargo-tiny"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo/examples/hello" "$work/hello"
rm -rf "$work/hello/target"
printf '\n[package.metadata.tiny]\nfiles = { "/data/big.bin" = "big.bin" }\n' >>"$work/hello/Cargo.toml"
printf x >"$work/hello/big.bin"
build() { # binary compression output
  SOURCE_DATE_EPOCH=1700000000 "$1" tiny build -q --manifest-path "$work/hello/Cargo.toml" \
    --target-dir "$work/target" --compression "$2" -o "$3"
}
build "$TINY" gzip "$work/warm.tar" >/dev/null
truncate -s "$size" "$work/hello/big.bin"
echo "files source: $(stat -c %s "$work/hello/big.bin") bytes (sparse)"
for c in "${compressions[@]}"; do
  for which in TINY BEFORE; do
    bin="${!which:-}"
    [ -n "$bin" ] || continue
    out="$work/$which-$c.tar"
    /usr/bin/time -f "%M %e" -o "$work/time" bash -c "$(declare -f build); work=$work; build $bin $c $out" >/dev/null
    read -r kib secs <"$work/time"
    label=$([ "$which" = TINY ] && echo this || echo before)
    echo "$label $c: peak RSS $((kib / 1024)) MiB, ${secs} s, tarball $(stat -c %s "$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16)"
  done
done
