#!/usr/bin/env bash
# Binary and layer sizes, side by side in one run, for each example and a real crates.io project:
# the default (size profile, gzip), --panic-abort, each --compression, and --size max (nightly),
# with the wall time of each `cargo tiny build`. Prints a Markdown table; asserts nothing.
#
# Usage: benchmarks/sizes.sh [PROJECT...]   PROJECT: hello, http-service, workspace, crate
#   (default: all). `crate` is hexyl (CRATE=name@version to change it), fetched through cargo.
#   --size max needs `cargo tiny setup --size max`; without it those rows say why they are missing.
# Times are wall clock on whatever else the machine runs: cold builds compile the dependencies
# (default, --panic-abort and --size max each compile the graph once, in their own target dir);
# the compression rows reuse the default's binary, so their time is the image stage alone.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
tiny="$repo/target/release/cargo-tiny"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
crate="${CRATE:-hexyl@0.16.0}"
projects=("$@")
[ ${#projects[@]} -gt 0 ] || projects=(hello http-service workspace crate)

# prepare NAME: copies (or fetches) the project into $work/NAME and echoes its extra build flags.
prepare() {
  case "$1" in
    hello | http-service)
      cp -r "$repo/examples/$1" "$work/$1"
      rm -rf "$work/$1/target"
      # http-service ships native-tls on purpose; doctor --fix moves it to rustls.
      if [ "$1" = http-service ]; then
        "$tiny" tiny doctor --fix -q --manifest-path "$work/$1/Cargo.toml" >/dev/null || true
      fi
      ;;
    workspace)
      cp -r "$repo/examples/workspace" "$work/workspace"
      echo "--bin greeter-api"
      ;;
    crate)
      # The published source of a binary crate, unpacked by cargo itself (with its Cargo.lock).
      local name="${crate%@*}" version="${crate#*@}"
      mkdir -p "$work/fetch/src"
      printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n[workspace]\n' \
        "$name" "$version" >"$work/fetch/Cargo.toml"
      : >"$work/fetch/src/lib.rs"
      cargo fetch -q --manifest-path "$work/fetch/Cargo.toml"
      local src
      src="$(cargo metadata --format-version 1 --manifest-path "$work/fetch/Cargo.toml" |
        jq -r --arg n "$name" '.packages[] | select(.name == $n) | .manifest_path' | xargs dirname)"
      cp -r "$src" "$work/crate"
      # A published package is not in a workspace of its own: make it one, as a checkout would be.
      grep -q '^\[workspace\]' "$work/crate/Cargo.toml" || printf '\n[workspace]\n' >>"$work/crate/Cargo.toml"
      ;;
  esac
}

# build NAME LABEL TARGET_DIR FLAGS...: one row of the table.
build() {
  local name="$1" label="$2" tdir="$3"
  shift 3
  local out="$work/out/$name-${label// /_}.tar" start end json shown="$name"
  [ "$name" = crate ] && shown="$crate (crates.io)"
  mkdir -p "$work/out"
  start=$(date +%s%N)
  if ! json="$(cd "$work/$name" && "$tiny" tiny build -q --message-format json --target-dir "$tdir" \
    -o "$out" "$@" 2>"$work/err")"; then
    printf '| %s | %s | – | – | – | – | %s |\n' "$shown" "$label" "$(grep -m1 '^error' "$work/err" || tail -1 "$work/err")"
    return
  fi
  end=$(date +%s%N)
  local bin layer tarball
  bin=$(jq -r 'select(.reason == "binary") | .size' <<<"$json" | head -1)
  layer=$(jq -r 'select(.reason == "image") | .compressed_size' <<<"$json" | head -1)
  tarball=$(jq -r 'select(.reason == "image") | .tarball_size' <<<"$json" | head -1)
  local ratio=""
  if [ "$label" = default ]; then base_layer=$layer; fi
  ratio=$(awk -v a="$layer" -v b="${base_layer:-$layer}" 'BEGIN { printf "%.3f", a / b }')
  printf '| %s | %s | %d | %d | %s | %d | %.1f s |\n' "$shown" "$label" "$bin" "$layer" "$ratio" "$tarball" \
    "$(awk -v s="$start" -v e="$end" 'BEGIN { print (e - s) / 1e9 }')"
}

echo "cargo-tiny $("$tiny" tiny --version | awk '{print $2}'), $(rustc --version), nightly: $(rustup run "${CARGO_TINY_NIGHTLY:-nightly}" rustc --version 2>/dev/null || echo none)"
echo
echo "| project | build | binary (B) | layer (B) | layer / default | tarball (B) | time |"
echo "|---|---|---:|---:|---:|---:|---:|"
for p in "${projects[@]}"; do
  read -r -a extra <<<"$(prepare "$p")"
  base_layer=""
  build "$p" default "$work/t-$p" "${extra[@]}"
  build "$p" "gzip-max" "$work/t-$p" "${extra[@]}" --compression gzip-max
  build "$p" "zstd" "$work/t-$p" "${extra[@]}" --compression zstd
  build "$p" "panic-abort" "$work/t-$p-abort" "${extra[@]}" --panic-abort
  build "$p" "size max" "$work/t-$p-max" "${extra[@]}" --size max
  build "$p" "size max + zstd" "$work/t-$p-max" "${extra[@]}" --size max --compression zstd
done
