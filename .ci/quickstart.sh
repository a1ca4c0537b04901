#!/usr/bin/env bash
# README's quick start, exactly as written, on a fresh clone of HEAD.
#   .ci/quickstart.sh            clone HEAD to a temp dir; run the setup commands, then the main job
#   .ci/quickstart.sh test-cmd   print README's test command (what .ci/run runs as the test stage)
# The commands are the fenced block after each `<!-- quickstart:NAME -->` marker in README.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

block() { # the lines of the ```sh block that follows <!-- quickstart:$1 -->
  awk -v m="<!-- quickstart:$1 -->" '
    $0 == m { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$repo/README.md"
}

if [ "${1:-}" = test-cmd ]; then
  cmd="$(block test)"
  if [ -z "$cmd" ] || [ "$(printf '%s\n' "$cmd" | wc -l)" -ne 1 ]; then
    echo "README: the quickstart:test block must hold one command" >&2
    exit 1
  fi
  printf '%s\n' "$cmd"
  exit 0
fi

setup="$(block setup)"; main="$(block run)"
if [ -z "$setup" ] || [ -z "$main" ]; then
  echo "README: a quickstart:setup or quickstart:run block is missing" >&2
  exit 1
fi
[ -z "$(git -C "$repo" status --porcelain)" ] || echo "note: uncommitted changes are not part of the fresh clone" >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q --no-hardlinks "$repo" "$work/cargo-tiny"
cd "$work/cargo-tiny"
# As root on a machine without sudo (CI containers), `sudo X` is just X.
if ! command -v sudo >/dev/null && [ "$(id -u)" -eq 0 ]; then
  sudo() { "$@"; }
  export -f sudo
fi
export DEBIAN_FRONTEND=noninteractive
n=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  echo "+ $line"
  bash -euo pipefail -c "$line"
  n=$((n + 1))
done <<<"$setup"$'\n'"$main"
test -s examples/hello/target/tiny/hello.tar
echo "quick start: ok, $n commands on a fresh clone"
