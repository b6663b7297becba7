#!/usr/bin/env bash
# System packages for the container test (tests/container): podman with runc, debootstrap for a
# local base image (no container registry is reachable), netavark + iptables for `-p` port
# publishing, podman-compose to run docker-compose.yml as documented.
# Idempotent: installs only what is missing, and only as root with apt (elsewhere
# the container test skips and says why).
set -euo pipefail
want=(podman runc debootstrap netavark aardvark-dns iptables catatonit podman-compose)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "podman: present ($(podman --version))"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "podman: missing ${missing[*]}; not root with apt, the container test will skip"
  exit 0
fi
echo "podman: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -qq)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
podman --version
