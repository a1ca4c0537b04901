#!/usr/bin/env bash
# The compile cache's step: which cache, and for `target` (the default) the target directory that
# `cargo tiny build` uses and the key actions/cache keeps it under — from what decides its contents:
# the workspace's Cargo.lock, the toolchain (`rustc -vV` in the project: release, commit, host; a
# rust-toolchain.toml applies) and the targets built. A second run with the directory restored
# compiles only the workspace's own crates (benchmarks/ci-cache.sh: the fastest of the three).
# Inputs (env): INPUT_COMPILE_CACHE (target | sccache | none; empty: target), INPUT_SCCACHE (true: the
#   older spelling of compile-cache: sccache; with another compile-cache, an error), INPUT_ARGS (the
#   build's extra arguments: a `--target-dir` there is the directory cached), INPUT_MANIFEST_PATH,
#   INPUT_TARGET, INPUT_PLATFORMS (commas or
#   spaces; overrides INPUT_TARGET; with neither, the metadata's `platforms`, else the host's musl
#   target), RUNNER_OS.
# Outputs ($GITHUB_OUTPUT): cache (target | sccache | none); with target: path (the target
#   directory), key, restore-key (the key without the Cargo.lock hash: a changed lockfile starts from
#   the last cache of the same toolchain and targets).
set -euo pipefail
cache="${INPUT_COMPILE_CACHE:-}"
if [ "${INPUT_SCCACHE:-false}" = "true" ]; then
  if [ -n "$cache" ] && [ "$cache" != sccache ]; then
    echo "::error::compile-cache: '$cache' and sccache: true disagree; drop sccache (the older spelling of compile-cache: sccache)"
    exit 1
  fi
  cache=sccache
fi
cache="${cache:-target}"
case "$cache" in
  target | sccache | none) ;;
  *)
    echo "::error::compile-cache: '$cache' is not one of target, sccache, none"
    exit 1
    ;;
esac
echo "cache=$cache" >>"$GITHUB_OUTPUT"
[ "$cache" = target ] || exit 0

manifest="${INPUT_MANIFEST_PATH:-Cargo.toml}"
metadata=$(cargo metadata --no-deps --format-version 1 --manifest-path "$manifest")
target_dir=$(jq -r .target_directory <<<"$metadata")
# A --target-dir among the build's arguments wins, as it does for cargo (relative to the job's
# working directory, where the build step runs).
read -r -d '' -a extra <<<"${INPUT_ARGS:-}" || true
for ((i = 0; i < ${#extra[@]}; i++)); do
  case "${extra[$i]}" in
    --target-dir=*) target_dir="${extra[$i]#--target-dir=}" ;;
    --target-dir) [ $((i + 1)) -lt ${#extra[@]} ] && target_dir="${extra[$((i + 1))]}" ;;
  esac
done
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
root=$(jq -r .workspace_root <<<"$metadata")

# The targets, as the build step picks them.
platforms_in="${INPUT_PLATFORMS:-}"
read -r -d '' -a platforms <<<"${platforms_in//,/ }" || true
if [ "${#platforms[@]}" -eq 0 ] && [ -z "${INPUT_TARGET:-}" ]; then
  read -r -d '' -a platforms < <(jq -r '
    def platforms: (.metadata.tiny.platforms)? | arrays | .[] | strings;
    [(., .packages[]) | platforms] | unique | .[]' <<<"$metadata") || true
fi
targets=()
for p in "${platforms[@]}"; do
  case "$p" in
    linux/amd64) targets+=(x86_64-unknown-linux-musl) ;;
    linux/arm64 | linux/arm64/v8) targets+=(aarch64-unknown-linux-musl) ;;
    *) echo "::error::platform $p is not supported; supported platforms: linux/amd64, linux/arm64"; exit 1 ;;
  esac
done
if [ "${#targets[@]}" -eq 0 ]; then targets+=("${INPUT_TARGET:-$(uname -m)-unknown-linux-musl}"); fi
targets_key=$(printf '%s\n' "${targets[@]}" | sort -u | paste -sd+)

# rustc as the project resolves it (rust-toolchain.toml): `1.91.0-abcdef1` plus the host.
verbose=$(cd "$root" && rustc -vV)
release=$(sed -n 's/^release: //p' <<<"$verbose")
commit=$(sed -n 's/^commit-hash: //p' <<<"$verbose" | cut -c1-9)
host=$(sed -n 's/^host: //p' <<<"$verbose")
# One project of several in a workflow: its own cache.
project=$(printf '%s' "$root" | sha256sum | cut -c1-8)
if [ -f "$root/Cargo.lock" ]; then
  lock=$(sha256sum <"$root/Cargo.lock" | cut -c1-16)
else
  lock=no-lock
fi
prefix="cargo-tiny-target-${RUNNER_OS:-$(uname -s)}-${project}-rustc-${release}-${commit}-${host}-${targets_key}-"
{
  echo "path=$target_dir"
  echo "key=${prefix}${lock}"
  echo "restore-key=${prefix}"
} >>"$GITHUB_OUTPUT"
echo "compile cache: $target_dir under ${prefix}${lock}"
