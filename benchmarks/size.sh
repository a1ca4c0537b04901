#!/usr/bin/env bash
# What `cargo tiny size` costs against `cargo tiny build`, and how much of each binary it attributes,
# on examples/http-service (after `cargo tiny doctor --fix`, on a temp copy) and a crates.io project
# (hexyl 0.16.0; CRATE=name@version to change it), fetched through cargo (never committed):
#   cold   `cargo tiny build` from an empty target dir, then `cargo tiny size` on top of it (the symbol
#          twin's link and the analysis: what `size` adds to a cold CI build);
#   edit   a change to src/main.rs that changes the binary (a new `#[used]` static each time), then
#          `cargo tiny build`; another such change, then `cargo tiny size` (the pull-request case: the
#          binary's crate changed, so its twin is linked; median of RUNS);
#   again  `cargo tiny size` with nothing changed since the last one (the analysis of the same bytes is
#          reused: no twin).
# Prints a Markdown table (wall and CPU seconds, GNU time's); asserts nothing.
# Usage: benchmarks/size.sh [RUNS]   (default 3)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-3}"
crate="${CRATE:-hexyl@0.16.0}"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
tiny="$repo/target/release/cargo-tiny"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1700000000

# The projects: http-service fixed by doctor, and the published source of a binary crate.
cp -r "$repo/examples/http-service" "$work/http-service"
rm -rf "$work/http-service/target"
"$tiny" tiny doctor --fix -q --manifest-path "$work/http-service/Cargo.toml" >/dev/null || true
name="${crate%@*}" version="${crate#*@}"
mkdir -p "$work/fetch/src"
printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n[workspace]\n' \
  "$name" "$version" >"$work/fetch/Cargo.toml"
: >"$work/fetch/src/lib.rs"
cargo fetch -q --manifest-path "$work/fetch/Cargo.toml"
src="$(cargo metadata --format-version 1 --manifest-path "$work/fetch/Cargo.toml" |
  jq -r --arg n "$name" '.packages[] | select(.name == $n) | .manifest_path' | xargs dirname)"
cp -r "$src" "$work/crate"
grep -q '^\[workspace\]' "$work/crate/Cargo.toml" || printf '\n[workspace]\n' >>"$work/crate/Cargo.toml"

# secs CMD...: "WALL/CPU" seconds of one run (CPU: user + system of the command and its children,
# which a machine shared with other builds disturbs less than the wall clock); output to $work/last.*.
secs() {
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >"$work/last.json" 2>"$work/last.log"
  awk '{printf "%.1f/%.1f\n", $1, $2 + $3}' "$work/time"
}
# med A/B...: the median wall and the median CPU, "WALL s (CPU C s)".
med() {
  local w c
  w=$(printf '%s\n' "$@" | cut -d/ -f1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  c=$(printf '%s\n' "$@" | cut -d/ -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$w s (CPU $c s)"
}

echo "| project | binary | attributed | cold build | + size after it | edit → build | edit → size | again: size |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for p in http-service crate; do
  dir="$work/$p" tdir="$work/target-$p"
  main="$dir/src/main.rs"
  [ -f "$main" ] || main="$(find "$dir/src" -name main.rs | head -1)"
  cold=$(secs "$tiny" tiny build --manifest-path "$dir/Cargo.toml" --target-dir "$tdir")
  first=$(secs "$tiny" tiny size --message-format json --manifest-path "$dir/Cargo.toml" --target-dir "$tdir")
  report=$(tail -1 "$work/last.json")
  size=$(jq '.binaries[0].size' <<<"$report")
  attributed=$(jq '.binaries[0].attributed * 1000 / .binaries[0].size | round / 10' <<<"$report")
  edit_build=() edit_size=() again=()
  cp "$main" "$work/main.rs.orig"
  edit() { # a new value in the binary: its bytes change, so does its twin
    cp "$work/main.rs.orig" "$main"
    printf '\n#[used]\nstatic BENCHMARK_EDIT: u64 = %s;\n' "$(date +%s%N)" >>"$main"
  }
  for _ in $(seq "$runs"); do
    edit
    edit_build+=("$(secs "$tiny" tiny build --manifest-path "$dir/Cargo.toml" --target-dir "$tdir")")
    edit
    edit_size+=("$(secs "$tiny" tiny size --manifest-path "$dir/Cargo.toml" --target-dir "$tdir")")
    grep -q ' Symbols .* linked again' "$work/last.log" || echo "note: no twin was linked after an edit ($p)" >&2
    again+=("$(secs "$tiny" tiny size --manifest-path "$dir/Cargo.toml" --target-dir "$tdir")")
  done
  shown="$p"
  [ "$p" = crate ] && shown="$crate (crates.io)"
  echo "| $shown | $size B | $attributed % | $(med "$cold") | +$(med "$first") | $(med "${edit_build[@]}") | $(med "${edit_size[@]}") | $(med "${again[@]}") |"
done
echo
echo "Wall seconds (CPU seconds, user + system); edit and again: median of $runs. \`+ size after it\` is \`cargo tiny size\` run right after the cold build: the twin's link and the analysis."
