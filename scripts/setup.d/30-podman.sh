#!/usr/bin/env bash
# System packages for the container test (tests/container): podman with runc, debootstrap for a
# local base image (no container registry is reachable), netavark + iptables for `-p` port
# publishing, podman-compose to run docker-compose.yml as documented.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/apt-ensure.sh" podman "the container test will skip" \
  podman runc debootstrap netavark aardvark-dns iptables catatonit podman-compose
command -v podman >/dev/null && podman --version || true
