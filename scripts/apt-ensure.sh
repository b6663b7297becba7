#!/usr/bin/env bash
# Installs the Debian packages a test group needs, only those missing, only as root with apt
# (elsewhere it says so, and that group's tests skip and say why). Used by scripts/setup.d/.
# Usage: scripts/apt-ensure.sh LABEL "WHAT SKIPS" PACKAGE...
set -euo pipefail
label=$1 skips=$2
shift 2
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$label: present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "$label: missing ${missing[*]}; not root with apt, $skips"
  exit 0
fi
echo "$label: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -qq)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
