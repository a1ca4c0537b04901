#!/usr/bin/env bash
# Figures for `cargo tiny build` on a real two-binary project from crates.io (flamegraph: `flamegraph`
# and `cargo-flamegraph`, ~60 crates), fetched through cargo into a temp dir (never committed):
#   1. no-op `cargo tiny build` vs no-op `cargo auditable build` with the same flags, as a ratio;
#   2. cold `cargo tiny build` vs the hand recipe (`cargo auditable build`, same flags, + tar/gzip of
#      the binaries);
#   3. the image step's time per MB of binary, fresh (images built) and reused (nothing changed).
# Prints, asserts nothing. Usage: benchmarks/noop.sh [RUNS]   (RUNS no-op runs each, default 10)
# BEFORE=/path/to/an/older/cargo-tiny also times that binary's no-op, for a before/after figure.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-10}"
crate=flamegraph version=0.6.15
target=x86_64-unknown-linux-musl
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
tiny="$repo/target/release/cargo-tiny"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Fetch the crate's source through cargo: a throwaway package depending on it.
mkdir -p "$work/fetch/src"
printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n[workspace]\n' \
  "$crate" "$version" >"$work/fetch/Cargo.toml"
: >"$work/fetch/src/lib.rs"
src=$(cargo metadata --format-version 1 --manifest-path "$work/fetch/Cargo.toml" |
  jq -r --arg n "$crate" '.packages[] | select(.name == $n) | .manifest_path' | xargs dirname)
cp -r "$src" "$work/project"
cd "$work/project"
# The published lock may name a version the registry index here does not have (yet): then resolve anew.
cargo fetch -q 2>/dev/null || { rm -f Cargo.lock; cargo fetch -q; }

ms() { echo "($2 - $1) / 1000000" | bc; }
now() { date +%s%N; }
# Median wall time in ms of `runs` runs of the command.
median_ms() {
  local t=() s e
  for _ in $(seq "$runs"); do
    s=$(now); "$@" >/dev/null 2>&1; e=$(now); t+=("$(ms "$s" "$e")")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# The exact cargo command cargo-tiny runs (its `-v` "Running" line), for the hand recipe.
export SOURCE_DATE_EPOCH=1700000000
cold_tiny_s=$(now)
"$tiny" tiny build -v --target-dir "$work/t-tiny" 2>"$work/tiny.log" >/dev/null
cold_tiny_e=$(now)
read -ra hand_args < <(sed -n 's/^ *Running cargo //p' "$work/tiny.log" | sed 's/--target-dir [^ ]*//; s/--message-format [^ ]*//; s/--color [^ ]*//; s/--manifest-path [^ ]*//')
hand() {
  RUSTFLAGS="-C target-feature=+crt-static" cargo "${hand_args[@]}" --target-dir "$work/t-hand" -q
}
hand_pack() {
  local dir="$work/t-hand/$target/release"
  tar -C "$dir" -czf "$work/hand.tar.gz" flamegraph cargo-flamegraph
}
cold_hand_s=$(now)
hand
hand_pack
cold_hand_e=$(now)

bin_bytes=$(( $(stat -c %s "$work/t-tiny/$target/release/flamegraph") + $(stat -c %s "$work/t-tiny/$target/release/cargo-flamegraph") ))
echo "project: $crate $version (2 binaries, $(grep -c '^name = ' Cargo.lock) packages in Cargo.lock, ${bin_bytes} bytes of binaries)"
echo "cold cargo tiny build (2 images):                  $(ms "$cold_tiny_s" "$cold_tiny_e") ms"
echo "cold hand recipe (cargo auditable build + tar.gz): $(ms "$cold_hand_s" "$cold_hand_e") ms"
if grep -q ' Audit ' "$work/tiny.log"; then
  echo "audit data vs compiled: $(grep -h ' Audit ' "$work/tiny.log" | sed 's/^ *Audit //' | sort -u | tr '\n' ' ')"
else
  echo "audit data vs compiled: every package of the audit data was compiled"
fi

noop_tiny=$(median_ms "$tiny" tiny build -q --target-dir "$work/t-tiny")
noop_tiny_noimg=$(median_ms "$tiny" tiny build -q --no-image --target-dir "$work/t-tiny")
noop_hand=$(median_ms hand)
echo "no-op cargo tiny build (median of $runs):            $noop_tiny ms"
echo "no-op cargo tiny build --no-image (median of $runs): $noop_tiny_noimg ms"
echo "no-op cargo auditable build, same flags (median):  $noop_hand ms"
echo "no-op ratio cargo tiny / cargo auditable:          $(echo "scale=1; $noop_tiny / $noop_hand" | bc)x"
if [ -n "${BEFORE:-}" ]; then
  "$BEFORE" tiny build -q --target-dir "$work/t-tiny" >/dev/null 2>&1
  noop_before=$(median_ms "$BEFORE" tiny build -q --target-dir "$work/t-tiny")
  echo "no-op with BEFORE=$BEFORE (median):   $noop_before ms ($(echo "scale=1; $noop_before / $noop_hand" | bc)x cargo auditable)"
  "$tiny" tiny build -q --target-dir "$work/t-tiny" >/dev/null 2>&1
fi

# The image step: cargo-tiny's own `-v` timing line; a new SOURCE_DATE_EPOCH forces new images.
image_ms() {
  "$tiny" tiny build -v --target-dir "$work/t-tiny" 2>&1 >/dev/null |
    sed -n 's/.*images written \([0-9]*\) ms.*/\1/p'
}
fresh=() reused=()
for i in $(seq "$runs"); do
  fresh+=("$(SOURCE_DATE_EPOCH=$((1700000000 + i)) image_ms)")
  reused+=("$(SOURCE_DATE_EPOCH=$((1700000000 + i)) image_ms)")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(echo "scale=3; $bin_bytes / 1048576" | bc)
echo "image step, 2 images built (median):               $(med "${fresh[@]}") ms = $(echo "scale=1; $(med "${fresh[@]}") / $mb" | bc) ms per MB of binary"
echo "image step, 2 images unchanged and reused (median): $(med "${reused[@]}") ms"
