#!/usr/bin/env bash
# Debian's Redis server for the shared-limits tests (tests/keys): each test starts a throw-away
# redis-server on a free loopback port in a temp dir, without persistence (no system service).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/apt-ensure.sh" redis "the shared-limits (Redis) tests will skip" redis-server
command -v redis-server || true
