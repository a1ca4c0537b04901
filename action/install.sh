#!/usr/bin/env bash
# Installs what a stock ubuntu-latest runner lacks for `cargo tiny build`; skips what is already there.
# Inputs (env): INPUT_TARGET, INPUT_PLATFORMS (commas or spaces; overrides INPUT_TARGET),
#   INPUT_MANIFEST_PATH (for the `platforms` of [workspace.metadata.tiny] / [package.metadata.tiny],
#   used when neither input is set, and to tell whether a cross platform needs zig), INPUT_VERSION
#   (empty: build cargo-tiny from the action's own source; set: the release binary of that version for
#   this runner's architecture, checked against the release's SHA256SUMS, and built from crates.io only
#   when the release has no such asset).
# Release hosts (overridable, e.g. by a test's local server): CARGO_TINY_RELEASE_URL (default: the
#   GitHub releases of Cargo.toml's `repository`), CARGO_AUDITABLE_RELEASE_URL (cargo-auditable's).
# CARGO_TINY_RELEASE_KEY: a PEM public key; when set, SHA256SUMS.sig must verify against it.
set -euo pipefail
target="${INPUT_TARGET:-}"
manifest="${INPUT_MANIFEST_PATH:-Cargo.toml}"
host_target="$(uname -m)-unknown-linux-musl"
action_path="${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

platforms_in="${INPUT_PLATFORMS:-}"
read -r -d '' -a platforms <<<"${platforms_in//,/ }" || true
if [ "${#platforms[@]}" -eq 0 ] && [ -z "$target" ]; then
  # Neither input: cargo tiny build takes the platforms of the workspace's and the packages' metadata
  # (`platforms = [...]` in [workspace.metadata.tiny] / [package.metadata.tiny]), so install for those.
  metadata=$(cargo metadata --no-deps --format-version 1 --manifest-path "$manifest")
  read -r -d '' -a platforms < <(jq -r '
    def platforms: (.metadata.tiny.platforms)? | arrays | .[] | strings;
    [(., .packages[]) | platforms] | unique | .[]' <<<"$metadata") || true
fi
# The host's target is needed for build scripts either way; the platforms' targets besides it.
targets=("$host_target")
cross=()
if [ "${#platforms[@]}" -eq 0 ] && [ -n "$target" ]; then
  targets+=("$target")
  [ "${target%%-*}" = "$(uname -m)" ] || cross+=("$target")
fi
for p in "${platforms[@]}"; do
  case "$p" in
    linux/amd64) targets+=(x86_64-unknown-linux-musl) ;;
    linux/arm64 | linux/arm64/v8) targets+=(aarch64-unknown-linux-musl) ;;
    *) echo "::error::platform $p is not supported; supported platforms: linux/amd64, linux/arm64"; exit 1 ;;
  esac
  [ "${targets[-1]%%-*}" = "$(uname -m)" ] || cross+=("${targets[-1]}")
done

for t in "${targets[@]}"; do
  if ! rustup target list --installed | grep -qx "$t"; then
    echo "::group::rustup target add $t"
    rustup target add "$t"
    echo "::endgroup::"
  fi
done

if ! command -v musl-gcc >/dev/null && ! command -v "$(uname -m)-linux-musl-gcc" >/dev/null; then
  echo "::group::apt-get install musl-tools"
  "${sudo_cmd[@]}" apt-get update -qq
  # env after sudo: sudo resets the environment, DEBIAN_FRONTEND would not reach apt-get.
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl-tools
  echo "::endgroup::"
fi

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
# shellcheck source=action/release.sh
. "$action_path/action/release.sh"

if ! command -v cargo-auditable >/dev/null; then
  echo "::group::cargo-auditable $CARGO_AUDITABLE_VERSION"
  if ! install_cargo_auditable_release; then
    cargo install cargo-auditable --locked --version "$CARGO_AUDITABLE_VERSION"
  fi
  echo "::endgroup::"
fi

if [ -n "${INPUT_VERSION:-}" ]; then
  version="${INPUT_VERSION#v}"
  if ! cargo tiny --version 2>/dev/null | grep -qx "cargo-tiny $version"; then
    echo "::group::cargo-tiny $version"
    if ! install_cargo_tiny_release "$version"; then
      cargo install cargo-tiny --version "$version" --locked
    fi
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

# zig, only when a platform of another architecture builds a graph that compiles C (a package
# declares `links` or build-depends on cc/cmake): `cargo tiny setup --platform` installs it.
for t in "${cross[@]}"; do
  c_crates=$(cargo metadata --format-version 1 --manifest-path "$manifest" --filter-platform "$t" |
    jq '[.packages[] | select(.links != null or any(.dependencies[]; .kind == "build" and (.name == "cc" or .name == "cmake")))] | length')
  if [ "$c_crates" -gt 0 ]; then
    echo "::group::cargo tiny setup --platform (zig for $t: $c_crates crates compile C)"
    case "$t" in aarch64-*) p=linux/arm64 ;; *) p=linux/amd64 ;; esac
    cargo tiny setup --platform "$p"
    echo "::endgroup::"
  fi
done
