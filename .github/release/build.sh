#!/usr/bin/env bash
# The release build of cargo-tiny, by cargo-tiny: what .github/workflows/release.yml runs on a version
# tag, and what tests/release.rs runs locally (no upload). Writes into OUT_DIR, per target triple:
#   cargo-tiny-<version>-<triple>.tar.gz   cargo-tiny-<version>-<triple>/ holding the static binary
#                                          `cargo-tiny`, its SBOMs (cargo-tiny.cdx.json, CycloneDX 1.6;
#                                          cargo-tiny.spdx.json, SPDX 2.3) and the licences
#   cargo-tiny-<version>-<triple>.oci.tar  the FROM-scratch image of the same binary (the by-product
#                                          that carries the SBOMs, and the signatures with a key)
# and SHA256SUMS over all of them; with SIGN_KEY, also SHA256SUMS.sig (ECDSA P-256 over SHA-256, DER:
# `openssl dgst -sha256 -verify release.pub -signature SHA256SUMS.sig SHA256SUMS`).
#
# Usage: build.sh OUT_DIR [TRIPLE...]      build (default triples: RELEASE_TRIPLES below)
#        build.sh names VERSION [TRIPLE...] print "<triple> <asset> <binary's path in the asset>" a
#                                           line (Cargo.toml's [package.metadata.binstall] and
#                                           action/install.sh are checked against it)
#        build.sh package OUT_DIR VERSION TRIPLE BINARY [SBOM...]   one .tar.gz from given files
#        build.sh sums OUT_DIR [SIGN_KEY]   SHA256SUMS (and its signature) over OUT_DIR's assets
# Env:   CARGO_TINY   the cargo-tiny binary to build with (default: `cargo tiny`, an installed one)
#        TARGET_DIR   cargo's target directory (default: target/ of the checkout)
#        SIGN_KEY     PKCS#8 PEM ECDSA P-256 key: `build --sign-key` (image signature, SLSA provenance,
#                     SBOM attestations) and SHA256SUMS.sig
# Reproducible: the same commit, toolchain and Cargo.lock give the same bytes, whatever the checkout
# path, target dir or time (every date is the commit's: SOURCE_DATE_EPOCH, which cargo-tiny reads too).
set -euo pipefail
RELEASE_TRIPLES=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
root="$(cd "$(dirname "$0")/../.." && pwd)"

# The one place the names are made.
asset_dir() { printf 'cargo-tiny-%s-%s' "$1" "$2"; }        # VERSION TRIPLE
asset_name() { printf '%s.tar.gz' "$(asset_dir "$1" "$2")"; } # VERSION TRIPLE

# A deterministic tarball of the given files under asset_dir/: sorted names, one date (the
# commit's), no owner names, mode 0755 for the binary and 0644 for the rest, gzip without a timestamp.
package() { # OUT_DIR VERSION TRIPLE BINARY [SBOM...]
  local out="$1" version="$2" triple="$3" bin="$4"; shift 4
  local dir; dir="$(asset_dir "$version" "$triple")"
  local tmp; tmp="$(mktemp -d)"
  mkdir "$tmp/$dir"
  install -m 0755 "$bin" "$tmp/$dir/cargo-tiny"
  local sbom
  for sbom in "$@"; do
    case "$sbom" in
      *.cdx.json) install -m 0644 "$sbom" "$tmp/$dir/cargo-tiny.cdx.json" ;;
      *.spdx.json) install -m 0644 "$sbom" "$tmp/$dir/cargo-tiny.spdx.json" ;;
      *) echo "error: $sbom is neither a .cdx.json nor a .spdx.json SBOM" >&2; rm -rf "$tmp"; return 1 ;;
    esac
  done
  install -m 0644 "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$tmp/$dir/"
  tar -C "$tmp" --sort=name --mtime="@${SOURCE_DATE_EPOCH:-0}" --owner=0 --group=0 --numeric-owner \
    --format=ustar -cf - "$dir" | gzip -9n >"$out/$(asset_name "$version" "$triple")"
  rm -rf "$tmp"
}

sums() { # OUT_DIR [SIGN_KEY]
  (cd "$1" && find . -maxdepth 1 -type f \( -name 'cargo-tiny-*.tar.gz' -o -name 'cargo-tiny-*.oci.tar' \) \
    -printf '%f\n' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
  if [ -n "${2:-}" ]; then
    openssl dgst -sha256 -sign "$2" -out "$1/SHA256SUMS.sig" "$1/SHA256SUMS"
  fi
}

case "${1:-}" in
  names)
    [ $# -ge 2 ] || { echo "usage: build.sh names VERSION [TRIPLE...]" >&2; exit 2; }
    version="$2"; shift 2
    [ $# -gt 0 ] || set -- "${RELEASE_TRIPLES[@]}"
    for t in "$@"; do
      printf '%s %s %s/cargo-tiny\n' "$t" "$(asset_name "$version" "$t")" "$(asset_dir "$version" "$t")"
    done
    exit 0 ;;
  package)
    [ $# -ge 5 ] || { echo "usage: build.sh package OUT_DIR VERSION TRIPLE BINARY [SBOM...]" >&2; exit 2; }
    shift; package "$@"; exit 0 ;;
  sums)
    [ $# -ge 2 ] || { echo "usage: build.sh sums OUT_DIR [SIGN_KEY]" >&2; exit 2; }
    shift; sums "$@"; exit 0 ;;
  "" | -*) echo "usage: build.sh OUT_DIR [TRIPLE...]" >&2; exit 2 ;;
esac

out="$1"; shift
[ $# -gt 0 ] || set -- "${RELEASE_TRIPLES[@]}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
target_dir="${TARGET_DIR:-$root/target}"
read -r -a tiny <<<"${CARGO_TINY:-cargo tiny}"
[ "${tiny[0]}" = cargo ] || tiny+=(tiny)   # a cargo-tiny binary runs as cargo runs it: `cargo-tiny tiny …`
version="$(cargo metadata --no-deps --format-version 1 --manifest-path "$root/Cargo.toml" |
  jq -r '.packages[] | select(.name == "cargo-tiny") | .version')"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct)}"
sign=()
[ -z "${SIGN_KEY:-}" ] || sign=(--sign-key "$SIGN_KEY")

msgs="$(mktemp)"
trap 'rm -f "$msgs"' EXIT
for t in "$@"; do
  echo "=== cargo tiny build --target $t" >&2
  "${tiny[@]}" build --locked --manifest-path "$root/Cargo.toml" --bin cargo-tiny --target "$t" \
    --target-dir "$target_dir" --sbom cyclonedx,spdx --image "ghcr.io/cargo-tiny/cargo-tiny:$version" \
    --output "$out/$(asset_dir "$version" "$t").oci.tar" "${sign[@]}" --message-format json >"$msgs"
  bin="$(jq -r 'select(.reason == "binary") | .path' "$msgs")"
  mapfile -t sboms < <(jq -r 'select(.reason == "image") | .sboms[].path' "$msgs")
  package "$out" "$version" "$t" "$bin" "${sboms[@]}"
  rm -f "${sboms[@]}"   # written beside the image tarball; the .tar.gz holds them (and the image)
done
sums "$out" "${SIGN_KEY:-}"
echo "=== $out/SHA256SUMS:" >&2
cat "$out/SHA256SUMS" >&2
