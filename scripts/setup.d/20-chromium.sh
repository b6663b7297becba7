#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/ui): Playwright drives it by path, since
# Playwright's own browser download cannot reach its host here.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/apt-ensure.sh" chromium "the UI tests will skip" chromium fonts-dejavu-core
[ -x /usr/bin/chromium ] && /usr/bin/chromium --version 2>/dev/null || true
