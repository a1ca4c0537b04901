#!/usr/bin/env bash
# The action's doctor step: `cargo tiny doctor --message-format github` (annotations on the Cargo.toml lines to
# change), then the same checks as JSON to count findings for the outputs and the job summary.
# Inputs (env): INPUT_MANIFEST_PATH, INPUT_PACKAGE, INPUT_TARGET, INPUT_DENY_WARNINGS.
# Outputs ($GITHUB_OUTPUT): errors, warnings, infos, findings ("N errors, N warnings").
# Exit status: doctor's (0 clean, 1 an error finding — or a warning with deny-warnings, 2 doctor failed).
set -euo pipefail

args=(--manifest-path "${INPUT_MANIFEST_PATH:-Cargo.toml}")
if [ -n "${INPUT_TARGET:-}" ]; then args+=(--target "$INPUT_TARGET"); fi
packages_in="${INPUT_PACKAGE:-}"
# -d '': every line (a multi-line `with:` value), not only the first.
read -r -d '' -a packages <<<"${packages_in//,/ }" || true
for p in "${packages[@]}"; do args+=(-p "$p"); done
if [ "${INPUT_DENY_WARNINGS:-false}" = true ]; then args+=(--deny warnings); fi

status=0
cargo tiny doctor --message-format github "${args[@]}" || status=$?

json="$(mktemp)"
trap 'rm -f "$json"' EXIT
if [ "$status" -le 1 ]; then
  cargo tiny doctor -q --message-format json "${args[@]}" >"$json" || true
fi
count() { jq -s --arg s "$1" '[.[] | select(.severity == $s)] | length' "$json"; }
errors=$(count error) warnings=$(count warning) infos=$(count info)
{
  echo "errors=$errors"
  echo "warnings=$warnings"
  echo "infos=$infos"
  echo "findings=$errors errors, $warnings warnings"
} >>"${GITHUB_OUTPUT:-/dev/null}"
echo "cargo tiny doctor: $errors errors, $warnings warnings, $infos notes (exit $status)"
exit "$status"
