#!/usr/bin/env bash
# The action's load step: `docker load -i` every image tarball the build wrote.
# Inputs (env): IMAGES (the build step's `images` output, a JSON array).
set -euo pipefail
jq -r '.[].path' <<<"${IMAGES:-[]}" | while IFS= read -r tarball; do
  docker load -i "$tarball"
done
