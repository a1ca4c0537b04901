#!/usr/bin/env bash
# What `cargo tiny doctor` costs on three projects of the doctor corpus (tests/data/doctor-corpus.md),
# their published sources fetched through cargo into a temp dir (never committed):
#   librespot 0.7.1     (ALSA through rodio, native TLS in a family of crates)
#   diesel_cli 2.3.14   (libpq, libmysqlclient and SQLite from the system)
#   websocat 1.14.1     (native-tls: OpenSSL, vendored)
# For each: `doctor` (the graph only), `doctor --fix` cold (an empty shared check directory:
# every crate checked for musl, C libraries built), and `doctor --fix` warm (the same unfixed
# project again, the check directory kept: what a second run costs). Prints, asserts nothing.
# Usage: benchmarks/doctor.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
tiny="$repo/target/release/cargo-tiny"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The published source of crate NAME at VERSION, through a throwaway package that depends on it:
# cargo downloads the .crate while resolving (also for a crate with no library target, which it
# then leaves out of the graph), and it is unpacked from cargo's cache.
fetch() {
  local name=$1 version=$2 dir="$work/fetch-$1"
  mkdir -p "$dir/src"
  printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n[workspace]\n' \
    "$name" "$version" >"$dir/Cargo.toml"
  : >"$dir/src/lib.rs"
  cargo metadata --format-version 1 --manifest-path "$dir/Cargo.toml" >/dev/null 2>&1
  local crate
  crate=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/cache" -name "$name-$version.crate" | head -1)
  tar -xzf "$crate" -C "$dir"
  echo "$dir/$name-$version"
}

now() { date +%s%N; }
secs() { echo "scale=1; ($2 - $1) / 1000000000" | bc; }

printf '%-14s %8s %14s %14s %s\n' project doctor "--fix cold" "--fix warm" "result"
for spec in librespot:0.7.1 diesel_cli:2.3.14 websocat:1.14.1; do
  name=${spec%%:*} version=${spec#*:}
  src=$(fetch "$name" "$version")
  target="$work/target-$name"
  fresh() {
    rm -rf "${work:?}/${name:?}"
    cp -r "$src" "$work/$name"
    chmod -R u+w "$work/$name"
  }
  run() { CARGO_TARGET_DIR="$target" "$tiny" tiny doctor -q --manifest-path "$work/$name/Cargo.toml" "$@" >/dev/null 2>&1; }
  fresh
  s=$(now); run || true; e=$(now); graph=$(secs "$s" "$e")
  s=$(now); code=0; run --fix || code=$?; e=$(now); cold=$(secs "$s" "$e")
  fresh
  s=$(now); run --fix || true; e=$(now); warm=$(secs "$s" "$e")
  printf '%-14s %7ss %13ss %13ss %s\n' "$name" "$graph" "$cold" "$warm" "exit $code"
done
echo "(two shared cores; doctor's graph: cargo metadata + cargo tree on a copy of the workspace;"
echo " --fix: the fix search on the graph, then cargo check --target x86_64-unknown-linux-musl)"
