#!/usr/bin/env bash
# Debian's nginx for the scale-out tests (tests/scale/test_nginx.py): each test runs its own nginx
# (deploy/nginx.conf, a temp prefix dir, a free loopback port, `daemon off`); no system service.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/apt-ensure.sh" nginx "the nginx scale-out tests will skip" nginx
command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true
