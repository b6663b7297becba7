#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/ui): Playwright drives it by path, since
# Playwright's own browser download cannot reach its host here. Idempotent: installs only when
# /usr/bin/chromium is missing, and only as root with apt (elsewhere the UI tests skip and say why).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: present ($(/usr/bin/chromium --version 2>/dev/null || echo unknown))"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "chromium: missing; not root with apt, the UI tests will skip"
  exit 0
fi
echo "chromium: installing"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -qq)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version || true
