#!/usr/bin/env bash
# The action's build step: `cargo tiny build --message-format json`, then outputs and a job summary
# from the JSON messages on stdout (cargo's and cargo-tiny's human output stay on stderr, in the log).
# Inputs (env): INPUT_MANIFEST_PATH, INPUT_PACKAGE, INPUT_BIN, INPUT_TARGET, INPUT_PLATFORMS (commas
#   or spaces; overrides INPUT_TARGET; with neither, the metadata's `platforms` apply), INPUT_IMAGE, INPUT_ARGS,
#   DOCTOR_FINDINGS (the doctor step's summary, empty when doctor did not run), INPUT_PUSH (true: --push),
#   INPUT_TAGS (extra tags for --push, spaces or commas), INPUT_SIZE_REPORT (true: `cargo tiny size`
#   instead of `cargo tiny build`, the same build plus the size report), INPUT_SIZE_BUDGET
#   (--size-budget), SIZE_DIR (where the base branch's size-report.json was restored, and where this
#   run's report is left for the cache to keep), INPUT_SIGN (true: --sign, keyless with the job's OIDC
#   token: ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, given to jobs with `id-token: write`).
# Outputs ($GITHUB_OUTPUT), of the first image (see `images` for all of them): tarball, digest, sbom,
#   image, binary-size (bytes), image-size (bytes of the tarball); images: a JSON array of every
#   `"reason":"image"` message; binaries: the same for `"reason":"binary"`; with push: pushed (every
#   pushed reference@digest, one per line) and pushed-digest (of the first image); with the size report:
#   size-report and size-html (paths), size-budget (`ok`, `over`, or empty without a budget); with sign:
#   signature-digest and provenance-digest (the first image's bundle referrers about its tagged digest).
set -euo pipefail

args=(--message-format json --manifest-path "${INPUT_MANIFEST_PATH:-Cargo.toml}")
platforms_in="${INPUT_PLATFORMS:-}"
if [ -n "${platforms_in//[[:space:],]/}" ]; then
  read -r -d '' -a platforms <<<"${platforms_in//,/ }" || true
  args+=(--platform "$(IFS=,; echo "${platforms[*]}")")
elif [ -n "${INPUT_TARGET:-}" ]; then
  args+=(--target "$INPUT_TARGET")
fi
# Neither: cargo tiny build takes `platforms` from [workspace.metadata.tiny] / [package.metadata.tiny],
# else builds for x86_64-unknown-linux-musl.
packages_in="${INPUT_PACKAGE:-}"
# -d '': every line (a multi-line `with:` value), not only the first.
read -r -d '' -a packages <<<"${packages_in//,/ }" || true
for p in "${packages[@]}"; do args+=(-p "$p"); done
bins_in="${INPUT_BIN:-}"
read -r -d '' -a bins <<<"${bins_in//,/ }" || true
for b in "${bins[@]}"; do args+=(--bin "$b"); done
if [ -n "${INPUT_IMAGE:-}" ]; then args+=(--image "$INPUT_IMAGE"); fi
# The repository prefix, lowercased: `ghcr.io/${{ github.repository_owner }}` for an owner with
# capitals is still a valid prefix (image names are lowercase; tags are not touched).
if [ -n "${INPUT_REPOSITORY:-}" ]; then
  repository="${INPUT_REPOSITORY,,}"
  if [ "$repository" != "$INPUT_REPOSITORY" ]; then
    echo "::notice::repository ${INPUT_REPOSITORY} lowercased to ${repository} (image names are lowercase)"
  fi
  args+=(--repository "$repository")
fi
# Extra arguments, split on whitespace (spaces, tabs and newlines: `args: |` with one flag per line)
# like a command line without quotes (no globbing, no expansion).
read -r -d '' -a extra <<<"${INPUT_ARGS:-}" || true
args+=("${extra[@]}")
if [ "${INPUT_PUSH:-false}" = "true" ]; then
  args+=(--push)
  tags_in="${INPUT_TAGS:-}"
  read -r -a tags <<<"${tags_in//,/ }"
  for t in "${tags[@]}"; do args+=(--tag "$t"); done
  if [ "${INPUT_SHA_TAG:-true}" = "true" ] && [ -n "${GITHUB_SHA:-}" ]; then
    args+=(--tag "sha-${GITHUB_SHA:0:7}")
  fi
elif [ -n "${INPUT_TAGS:-}" ]; then
  echo "::error::the tags input needs push: true"
  exit 1
fi

if [ -n "${INPUT_SIZE_BUDGET:-}" ]; then args+=(--size-budget "$INPUT_SIZE_BUDGET"); fi
if [ "${INPUT_SIGN:-false}" = "true" ]; then args+=(--sign); fi
command=build
baseline=""
if [ "${INPUT_SIZE_REPORT:-false}" = "true" ]; then
  command=size
  if [ -n "${SIZE_DIR:-}" ] && [ -f "$SIZE_DIR/size-report.json" ]; then
    baseline="$SIZE_DIR/size-report.json"
    args+=(--baseline "$baseline")
  fi
fi

messages="$(mktemp)"
trap 'rm -f "$messages"' EXIT
echo "cargo tiny $command ${args[*]}"
# A size budget that is exceeded fails the step, after the outputs and the summary are written.
status=0
cargo tiny "$command" "${args[@]}" >"$messages" || status=$?

# A multi-platform image is one "image-index" message (its digest is the index's).
images=$(jq -cs '[.[] | select(.reason == "image" or .reason == "image-index")]' "$messages")
binaries=$(jq -cs '[.[] | select(.reason == "binary")]' "$messages")
# A build that failed before it made anything reports nothing.
if [ "$status" -ne 0 ] && [ "$images" = "[]" ] && [ "$binaries" = "[]" ]; then exit "$status"; fi
first=$(jq -c '.[0] // {}' <<<"$images")
first_bin=$(jq -r '.bin // empty' <<<"$first")
[ -n "$first_bin" ] || first_bin=$(jq -r '.[0].bin // empty' <<<"$binaries")
binary_size=$(jq -r --arg b "$first_bin" '[.[] | select(.bin == $b)][0].size // empty' <<<"$binaries")
{
  echo "tarball=$(jq -r '.path // empty' <<<"$first")"
  echo "digest=$(jq -r '.manifest_digest // .index_digest // empty' <<<"$first")"
  echo "sbom=$(jq -r '.sbom_path // .platforms[0].sbom_path // empty' <<<"$first")"
  echo "image=$(jq -r '.image // empty' <<<"$first")"
  echo "binary-size=$binary_size"
  echo "image-size=$(jq -r '.tarball_size // empty' <<<"$first")"
  echo "images=$images"
  echo "binaries=$binaries"
  echo "pushed-digest=$(jq -r '.pushed.digest // empty' <<<"$first")"
  # The first image's bundles about what its tags name (the manifest, or the index).
  for p in signature=https://sigstore.dev/cosign/sign/v1 provenance=https://slsa.dev/provenance/v1; do
    echo "${p%%=*}-digest=$(jq -r --arg t "${p#*=}" '(.manifest_digest // .index_digest) as $d
      | [.bundles[]? | select(.subject == $d and .predicate_type == $t)][0].digest // empty' <<<"$first")"
  done
  echo "pushed<<CARGO_TINY_EOF"
  jq -r '.[] | select(.pushed) | .pushed.tags[] as $t | "\($t)@\(.pushed.digest)"' <<<"$images"
  echo "CARGO_TINY_EOF"
} >>"${GITHUB_OUTPUT:-/dev/null}"

# Job summary: one table per image (or per binary with --no-image).
{
  echo "### cargo tiny build"
  echo
  jq -r --argjson bins "$binaries" --arg doctor "${DOCTOR_FINDINGS:-not run}" '
    def kib: if . >= 1048576 then "\(. / 1048576 * 100 | round / 100) MiB" else "\(. / 1024 * 10 | round / 10) KiB" end;
    .[] as $i
    | ($bins | map(select(.bin == $i.bin and .package == $i.package)) | .[0]) as $b
    | "#### `\($i.image)`\n",
      "| | |", "| --- | --- |",
      "| binary | `\($i.bin)` (\($b.size) bytes, \($b.size | kib)) |",
      "| image tarball | \($i.tarball_size) bytes (\($i.tarball_size | kib)) |",
      (if $i.platforms then
        ($i.platforms[] | "| \(.platform) | layer \(.compressed_size) bytes (\(.compressed_size | kib)), binary \(.binary_size) bytes, `\(.manifest_digest)` |"),
        "| index digest | `\($i.index_digest)` |"
      else
        "| compressed layer | \($i.compressed_size) bytes (\($i.compressed_size | kib)) |",
        "| digest | `\($i.manifest_digest)` |",
        "| SBOM components | \($i.sbom_components) |"
      end),
      "| doctor findings | \($doctor) |",
      (if $i.pushed then
        ($i.pushed.tags[] | "| pushed | `\(.)@\($i.pushed.digest)` |"),
        "| SBOM referrer | `\($i.pushed.sbom_digest)` (\($i.pushed.referrers)) |",
        "| uploaded | \($i.pushed.uploaded_blobs) blobs, \($i.pushed.uploaded_bytes) bytes |"
      else empty end),
      ""' <<<"$images"
  if [ "$images" = "[]" ]; then
    echo "| binary | size | audited packages |"
    echo "| --- | --- | --- |"
    jq -r '.[] | "| `\(.bin)` | \(.size) bytes | \(.audited_packages) |"' <<<"$binaries"
  fi
} >>"${GITHUB_STEP_SUMMARY:-/dev/null}"

# The size report: its files for the artifact and the cache, a table per image, what grew, the advice.
report=$(jq -cs '[.[] | select(.reason == "size-report")][0] // empty' "$messages")
if [ -n "$report" ]; then
  report_path=$(jq -r '.report_path' <<<"$report")
  html_path=$(jq -r '.html_path' <<<"$report")
  verdict=$(jq -r 'if (.budget // []) == [] then "" elif all(.budget[]; .ok) then "ok" else "over" end' <<<"$report")
  {
    echo "size-report=$report_path"
    echo "size-html=$html_path"
    echo "size-budget=$verdict"
  } >>"${GITHUB_OUTPUT:-/dev/null}"
  if [ -n "${SIZE_DIR:-}" ]; then
    mkdir -p "$SIZE_DIR"
    cp "$report_path" "$SIZE_DIR/size-report.json"
  fi
  {
    echo "### Image size"
    echo
    if [ -n "$baseline" ]; then
      echo "Compared with the base branch's last report (kept in the actions cache)."
    else
      echo "No report of the base branch in the actions cache yet: sizes without a comparison."
    fi
    echo
    echo "| image | platform | layer | Δ layer | binary | Δ binary | budget |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
    jq -r '
      def kib: if . >= 1048576 then "\(. / 1048576 * 100 | round / 100) MiB" else "\(. / 1024 * 10 | round / 10) KiB" end;
      def signed: if . == null then "—" elif . < 0 then "−\(-. | kib)" else "+\(. | kib)" end;
      def triple: {"linux/amd64": "x86_64-unknown-linux-musl", "linux/arm64": "aarch64-unknown-linux-musl"}[.] // .;
      . as $r
      | .images[] as $i
      | ($i.platform | triple) as $t
      | ([$r.binaries[] | select(.bin == $i.bin and .target == $t)][0]) as $b
      | ([$r.diff.images[]? | select(.bin == $i.bin and .platform == $i.platform)][0].delta) as $dl
      | ([$r.diff.binaries[]? | select(.bin == $i.bin and .target == $t)][0].delta) as $db
      | ([$r.budget[]? | select(.bin == $i.bin and ((.what == "layer" and .platform == $i.platform) or (.what == "binary" and .platform == $t)))
          | "\(if .ok then "✅" else "❌" end) \(.what) \(.size | kib) of \(.limit | kib)"] | join("<br>")) as $v
      | "| `\($i.image)` | \($i.platform) | \($i.compressed_size | kib) | \($dl | signed) | \($b.size // 0 | kib) | \($db | signed) | \(if $v == "" then "—" else $v end) |"
    ' <<<"$report"
    jq -r '
      def kib: if . >= 1048576 then "\(. / 1048576 * 100 | round / 100) MiB" else "\(. / 1024 * 10 | round / 10) KiB" end;
      def signed: if . < 0 then "−\(-. | kib)" else "+\(. | kib)" end;
      [.diff.binaries[]? | select((.owners | length) > 0)] as $d
      | if ($d | length) > 0 then
          "", "**What changed the most** (bytes of the binary, by crate)", "",
          "| binary | crate | before | after | change |", "| --- | --- | ---: | ---: | ---: |",
          ($d[] as $b | ($b.owners | map(select(.delta >= 1024 or .delta <= -1024))
            | sort_by(-(if .delta < 0 then -.delta else .delta end)) | .[:8][])
            | "| `\($b.bin)` | \(.name) | \(.old | kib) | \(.new | kib) | \(.delta | signed) |")
        else empty end
    ' <<<"$report"
    jq -r 'if (.advice // []) != [] then "", "**Advice** (from what was measured)", "", (.advice[] | "- \(.message)") else empty end' <<<"$report"
    echo
    echo "Every crate's share, as a treemap: \`size-report.html\` in the job's artifacts."
    echo
  } >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
fi
echo "cargo tiny $command: $(jq length <<<"$binaries") binaries, $(jq length <<<"$images") images"
exit "$status"
