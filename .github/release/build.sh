#!/usr/bin/env bash
# The release build of cargo-tiny, by cargo-tiny: what .github/workflows/release.yml runs on a version
# tag, and what tests/release.rs runs locally (no upload). Writes into OUT_DIR, per target triple:
#   cargo-tiny-<version>-<triple>.tar.gz   the static binary, its SBOMs (CycloneDX 1.6, SPDX 2.3)
#                                          and the licences, under cargo-tiny-<version>-<triple>/
#   cargo-tiny-<version>-<triple>.oci.tar  the FROM-scratch image of the same binary (the by-product
#                                          that carries the SBOMs, and the signatures with a key)
# and SHA256SUMS over all of them; with SIGN_KEY, also SHA256SUMS.sig (ECDSA P-256 over SHA-256,
# DER, `openssl dgst -sha256 -verify release.pub -signature SHA256SUMS.sig SHA256SUMS`).
#
# Usage: build.sh OUT_DIR [TRIPLE...]        (default triples: the two of RELEASE_TRIPLES)
#        build.sh names VERSION [TRIPLE...]   print the asset names, one a line (Cargo.toml's
#                                             [package.metadata.binstall] is checked against them)
# Env:   CARGO_TINY   the cargo-tiny binary to build with (default: `cargo tiny`, i.e. an installed one)
#        TARGET_DIR   cargo's target directory (default: target/ of the checkout)
#        SIGN_KEY     PKCS#8 PEM ECDSA P-256 key: `build --sign-key` (image signature, SLSA provenance,
#                     SBOM attestations) and SHA256SUMS.sig
# Reproducible: the same commit, toolchain and Cargo.lock give the same bytes, whatever the checkout
# path, target dir or time (the dates are the commit's: SOURCE_DATE_EPOCH, which cargo-tiny also reads).
set -euo pipefail
RELEASE_TRIPLES=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
root="$(cd "$(dirname "$0")/../.." && pwd)"

# The one place an asset's name is made (binstall's pkg-url and action/install.sh follow it).
asset_name() { # VERSION TRIPLE
  printf 'cargo-tiny-%s-%s.tar.gz\n' "$1" "$2"
}

if [ "${1:-}" = names ]; then
  [ $# -ge 2 ] || { echo "usage: build.sh names VERSION [TRIPLE...]" >&2; exit 2; }
  version="$2"; shift 2
  [ $# -gt 0 ] || set -- "${RELEASE_TRIPLES[@]}"
  for t in "$@"; do asset_name "$version" "$t"; done
  exit 0
fi

[ $# -ge 1 ] || { echo "usage: build.sh OUT_DIR [TRIPLE...]" >&2; exit 2; }
out="$1"; shift
[ $# -gt 0 ] || set -- "${RELEASE_TRIPLES[@]}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
target_dir="${TARGET_DIR:-$root/target}"
read -r -a tiny <<<"${CARGO_TINY:-cargo tiny}"
[ "${tiny[0]}" = cargo ] || tiny+=(tiny)   # a cargo-tiny binary is run as cargo runs it: `cargo-tiny tiny …`
version="$(cargo metadata --no-deps --format-version 1 --manifest-path "$root/Cargo.toml" |
  jq -r '.packages[] | select(.name == "cargo-tiny") | .version')"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct)}"
sign=()
[ -z "${SIGN_KEY:-}" ] || sign=(--sign-key "$SIGN_KEY")

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
assets=()
for t in "$@"; do
  base="cargo-tiny-$version-$t"
  image="$base.oci.tar"
  echo "=== cargo tiny build --target $t" >&2
  "${tiny[@]}" build --locked --manifest-path "$root/Cargo.toml" --bin cargo-tiny --target "$t" \
    --target-dir "$target_dir" --sbom cyclonedx,spdx --image "ghcr.io/cargo-tiny/cargo-tiny:$version" \
    --output "$out/$image" "${sign[@]}" --message-format json >"$stage/$t.json"
  bin="$(jq -r 'select(.reason == "binary") | .path' "$stage/$t.json")"
  mkdir "$stage/$base"
  cp "$bin" "$stage/$base/cargo-tiny"
  # The SBOMs as cargo-tiny wrote them beside the image: cargo-tiny.cdx.json, cargo-tiny.spdx.json.
  jq -r 'select(.reason == "image") | .sboms[] | [.format, .path] | @tsv' "$stage/$t.json" |
    while IFS=$'\t' read -r format sbom; do
      case "$format" in
        CycloneDX*) cp "$sbom" "$stage/$base/cargo-tiny.cdx.json" ;;
        SPDX*) cp "$sbom" "$stage/$base/cargo-tiny.spdx.json" ;;
      esac
    done
  cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$stage/$base/"
  # A deterministic tarball: sorted names, the commit's date, no owner names, gzip without a timestamp.
  tar -C "$stage" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --format=ustar -cf - "$base" | gzip -9n >"$out/$(asset_name "$version" "$t")"
  assets+=("$(asset_name "$version" "$t")" "$image")
done
(cd "$out" && sha256sum "${assets[@]}" >SHA256SUMS)
if [ -n "${SIGN_KEY:-}" ]; then
  openssl dgst -sha256 -sign "$SIGN_KEY" -out "$out/SHA256SUMS.sig" "$out/SHA256SUMS"
fi
echo "=== $out:" >&2
(cd "$out" && cat SHA256SUMS >&2)
