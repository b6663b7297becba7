#!/usr/bin/env bash
# Debian's PostgreSQL server for the ledger tests (tests/usage): each test session initdb's a
# throw-away cluster in a temp dir on a free loopback port (no system service is used).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/apt-ensure.sh" postgresql "the PostgreSQL ledger tests will skip" postgresql
ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -1 || true
