#!/usr/bin/env bash
# Push timings for the closing note: examples/http-service's image (after `cargo tiny doctor --fix`, on
# a copy) pushed to Debian's docker-registry on 127.0.0.1, cold (an empty registry) and warm (the same
# push again), by `cargo tiny push` and by `skopeo copy --all oci-archive:… docker://…` of the same
# tarball, side by side in one run. Each cold run gets a new, empty registry on a new port.
# Prints, asserts nothing. Usage: benchmarks/push.sh [RUNS]   (TINY=path/to/cargo-tiny to skip the build)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-5}"
if [ -z "${TINY:-}" ]; then
  cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
  TINY="$repo/target/release/cargo-tiny"
fi
work="$(mktemp -d)"
registry_pid=""
stop_registry() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  registry_pid=""
}
trap 'stop_registry; rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Starts an empty registry; sets $host.
start_registry() {
  stop_registry
  local port; port=$(free_port)
  local data; data=$(mktemp -d "$work/registry.XXXX")
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$data" "$port" >"$data.yml"
  docker-registry serve "$data.yml" >/dev/null 2>&1 &
  registry_pid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  host="127.0.0.1:$port"
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cp -r "$repo/examples/http-service" "$work/http-service"
rm -rf "$work/http-service/target"
"$TINY" tiny doctor -q --manifest-path "$work/http-service/Cargo.toml" --fix >/dev/null
"$TINY" tiny build -q --manifest-path "$work/http-service/Cargo.toml" --output "$work/http-service.tar" >/dev/null
tarball="$work/http-service.tar"
layer=$(tar -xOf "$tarball" manifest.json | jq -r '.[0].Layers[0]')
echo "tarball: $(stat -c %s "$tarball") bytes, layer: $(tar -tvf "$tarball" "$layer" | awk '{ print $3 }') bytes"

: >"$work/tiny-cold"; : >"$work/tiny-warm"; : >"$work/skopeo-cold"; : >"$work/skopeo-warm"
for i in $(seq 1 "$runs"); do
  start_registry
  t=$(now); "$TINY" tiny push -q "$tarball" "$host/http-service:bench"; secs "$t" "$(now)" >>"$work/tiny-cold"; echo >>"$work/tiny-cold"
  t=$(now); "$TINY" tiny push -q "$tarball" "$host/http-service:bench"; secs "$t" "$(now)" >>"$work/tiny-warm"; echo >>"$work/tiny-warm"
  start_registry
  t=$(now); skopeo copy -q --all --dest-tls-verify=false "oci-archive:$tarball" "docker://$host/http-service:bench" >/dev/null; secs "$t" "$(now)" >>"$work/skopeo-cold"; echo >>"$work/skopeo-cold"
  t=$(now); skopeo copy -q --all --dest-tls-verify=false "oci-archive:$tarball" "docker://$host/http-service:bench" >/dev/null; secs "$t" "$(now)" >>"$work/skopeo-warm"; echo >>"$work/skopeo-warm"
  echo "run $i: cargo tiny push cold $(tail -1 "$work/tiny-cold") s, warm $(tail -1 "$work/tiny-warm") s; skopeo copy --all cold $(tail -1 "$work/skopeo-cold") s, warm $(tail -1 "$work/skopeo-warm") s"
done
stop_registry
printf '%-28s %10s %10s\n' "median of $runs runs (s)" cold warm
printf '%-28s %10s %10s\n' "cargo tiny push" "$(median <"$work/tiny-cold")" "$(median <"$work/tiny-warm")"
printf '%-28s %10s %10s\n' "skopeo copy --all" "$(median <"$work/skopeo-cold")" "$(median <"$work/skopeo-warm")"
