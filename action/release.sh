# shellcheck shell=bash
# Prebuilt release binaries for action/install.sh (sourced; needs action_path and cargo_bin): each is
# checked against its release's digests (and signature) before anything is installed. A function
# returns 1 only when the release has no such asset (HTTP 404), so that the caller builds from source;
# any other failure (a wrong digest, a bad signature, a host that does not answer) stops the step.

# The cargo-auditable version installed when none is on PATH (its own release, else crates.io).
CARGO_AUDITABLE_VERSION="${CARGO_AUDITABLE_VERSION:-0.7.7}"

release_triple() { printf '%s-unknown-linux-musl' "$(uname -m)"; }

# Downloads URL to OUT: 0 when the host sent it, 1 when it answered 404; otherwise stops the step.
# Plain http only when the URL itself is http (a release host overridden to a local server).
download() { # URL OUT
  local proto='=https' code
  case "$1" in http://*) proto='=http' ;; esac
  code=$(curl --silent --show-error --location --retry 3 --proto "$proto" --proto-redir '=https' \
    --output "$2" --write-out '%{http_code}' "$1") || true
  case "$code" in
    200) return 0 ;;
    404) rm -f "$2"; return 1 ;;
    *) echo "::error::$1: HTTP ${code:-000} — retry the job, or check the release host (CARGO_TINY_RELEASE_URL)"; exit 1 ;;
  esac
}

# The sha256 of FILE must be the one SUMS lists for NAME (sha256sum's format); else nothing is installed.
check_digest() { # SUMS NAME FILE
  local expected actual
  expected=$(awk -v f="$2" '$2 == f || $2 == "*" f { print $1; exit }' "$1")
  if [ -z "$expected" ]; then
    echo "::error::$2 is not listed in its release's checksums: not installed — report it to the project"
    exit 1
  fi
  actual=$(sha256sum "$3" | cut -d ' ' -f 1)
  if [ "$actual" != "$expected" ]; then
    echo "::error::$2 has sha256 $actual, its release lists $expected: not installed — retry the job; if it persists, report it"
    exit 1
  fi
}

# Moves the checked binary BIN into cargo's bin dir as NAME (atomically: a rename in that dir).
install_bin() { # BIN NAME
  mkdir -p "${cargo_bin:?}"
  install -m 0755 "$1" "$cargo_bin/.$2.partial"
  mv -f "$cargo_bin/.$2.partial" "$cargo_bin/$2"
}

# cargo-tiny VERSION from its GitHub release (the assets of .github/release/build.sh): SHA256SUMS, its
# signature when CARGO_TINY_RELEASE_KEY names a PEM public key, then the binary's .tar.gz.
install_cargo_tiny_release() { # VERSION
  local version="$1" repo base tmp triple asset bin_path
  repo=$(sed -n 's/^repository = "\(.*\)"/\1/p' "${action_path:?}/Cargo.toml" | head -n 1)
  base="${CARGO_TINY_RELEASE_URL:-$repo/releases/download}/v$version"
  triple=$(release_triple)
  read -r _ asset bin_path < <("$action_path/.github/release/build.sh" names "$version" "$triple")
  [ -n "${bin_path:-}" ] || { echo "::error::.github/release/build.sh names gave no asset name"; exit 1; }
  tmp=$(mktemp -d)
  if ! download "$base/SHA256SUMS" "$tmp/SHA256SUMS" || ! download "$base/$asset" "$tmp/$asset"; then
    echo "::notice::no $asset in cargo-tiny's v$version release: building it from source (cargo install)"
    rm -rf "$tmp"
    return 1
  fi
  if [ -n "${CARGO_TINY_RELEASE_KEY:-}" ]; then
    if ! download "$base/SHA256SUMS.sig" "$tmp/SHA256SUMS.sig"; then
      echo "::error::cargo-tiny's v$version release has no SHA256SUMS.sig, and CARGO_TINY_RELEASE_KEY asks for one: not installed"
      exit 1
    fi
    if ! openssl dgst -sha256 -verify "$CARGO_TINY_RELEASE_KEY" -signature "$tmp/SHA256SUMS.sig" "$tmp/SHA256SUMS" >/dev/null; then
      echo "::error::SHA256SUMS of cargo-tiny v$version is not signed by CARGO_TINY_RELEASE_KEY: not installed"
      exit 1
    fi
    echo "SHA256SUMS: signature verified (CARGO_TINY_RELEASE_KEY)"
  fi
  check_digest "$tmp/SHA256SUMS" "$asset" "$tmp/$asset"
  tar -xzf "$tmp/$asset" -C "$tmp" "$bin_path"
  if [ "$("$tmp/$bin_path" tiny --version)" != "cargo-tiny $version" ]; then
    echo "::error::$asset holds no cargo-tiny $version binary (it says: $("$tmp/$bin_path" tiny --version)): not installed"
    exit 1
  fi
  install_bin "$tmp/$bin_path" cargo-tiny
  echo "cargo-tiny $version: $asset (sha256 $(sha256sum "$tmp/$asset" | cut -c 1-16)…) from $base"
  rm -rf "$tmp"
}

# cargo-auditable from its GitHub release (cargo-dist's assets: cargo-auditable-<triple>.tar.xz and a
# .sha256 beside it; x86_64 musl only, so arm64 runners build it).
install_cargo_auditable_release() {
  local base asset tmp
  base="${CARGO_AUDITABLE_RELEASE_URL:-https://github.com/rust-secure-code/cargo-auditable/releases/download}/v$CARGO_AUDITABLE_VERSION"
  asset="cargo-auditable-$(release_triple).tar.xz"
  tmp=$(mktemp -d)
  if ! download "$base/$asset.sha256" "$tmp/$asset.sha256" || ! download "$base/$asset" "$tmp/$asset"; then
    echo "::notice::no $asset in cargo-auditable's v$CARGO_AUDITABLE_VERSION release: building it from source (cargo install)"
    rm -rf "$tmp"
    return 1
  fi
  # The .sha256 holds the digest, and the file name or not: its first field is the digest.
  awk -v f="$asset" 'NR == 1 { print $1 "  " f }' "$tmp/$asset.sha256" >"$tmp/sums"
  check_digest "$tmp/sums" "$asset" "$tmp/$asset"
  mkdir "$tmp/x"
  tar -xJf "$tmp/$asset" -C "$tmp/x"
  local bin
  bin=$(find "$tmp/x" -type f -name cargo-auditable | head -n 1)
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "::error::$asset holds no cargo-auditable binary: not installed"
    exit 1
  fi
  install_bin "$bin" cargo-auditable
  echo "cargo-auditable $CARGO_AUDITABLE_VERSION: $asset from $base"
  rm -rf "$tmp"
}
