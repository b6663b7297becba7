#!/usr/bin/env bash
# Start THIS repository's gateway (src/llms, as checked out, no install needed) in front of the
# mock upstream: llms-v2.sh (the generic llms.json v2 starter) with `python -m llms` from src/.
# Called by run.py, which exports BENCH_PORT, BENCH_UPSTREAM, BENCH_MODEL and BENCH_WORKDIR.
# LLMS_PYTHON: the interpreter (default python3; needs aiohttp, orjson and uvloop importable).
# Extra arguments go to `llms` (e.g. --verbose).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$here/../../src${PYTHONPATH:+:$PYTHONPATH}"
LLMS_BIN="${LLMS_PYTHON:-python3} -m llms" exec "$here/llms-v2.sh" "$@"
