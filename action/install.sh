#!/usr/bin/env bash
# Installs what a stock ubuntu-latest runner lacks for `cargo tiny build`; skips what is already there.
# Inputs (env): INPUT_TARGET, INPUT_VERSION (empty: build cargo-tiny from the action's own source).
set -euo pipefail
target="${INPUT_TARGET:-x86_64-unknown-linux-musl}"
action_path="${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

if ! rustup target list --installed | grep -qx "$target"; then
  echo "::group::rustup target add $target"
  rustup target add "$target"
  echo "::endgroup::"
fi

arch="${target%%-*}"
if ! command -v musl-gcc >/dev/null && ! command -v "$arch-linux-musl-gcc" >/dev/null; then
  echo "::group::apt-get install musl-tools"
  "${sudo_cmd[@]}" apt-get update -qq
  # env after sudo: sudo resets the environment, DEBIAN_FRONTEND would not reach apt-get.
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl-tools
  echo "::endgroup::"
fi

if ! command -v cargo-auditable >/dev/null; then
  echo "::group::cargo install cargo-auditable"
  cargo install cargo-auditable --locked
  echo "::endgroup::"
fi

if [ -n "${INPUT_VERSION:-}" ]; then
  if ! cargo tiny --version 2>/dev/null | grep -qx "cargo-tiny ${INPUT_VERSION#v}"; then
    echo "::group::cargo install cargo-tiny ${INPUT_VERSION#v}"
    cargo install cargo-tiny --version "${INPUT_VERSION#v}" --locked
    echo "::endgroup::"
  fi
else
  want="$(sed -n 's/^version = "\(.*\)"/\1/p' "$action_path/Cargo.toml" | head -n 1)"
  if ! cargo tiny --version 2>/dev/null | grep -qx "cargo-tiny $want"; then
    echo "::group::cargo install cargo-tiny (from $action_path)"
    cargo install --locked --path "$action_path"
    echo "::endgroup::"
  fi
fi
cargo tiny --version
