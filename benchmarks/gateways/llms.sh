#!/usr/bin/env bash
# Start THIS repository's gateway (src/llms, as checked out, no install needed) in front of the
# mock upstream, with an llms.json (v2 format) that has one OpenAI-compatible provider: the mock.
# Called by run.py, which exports BENCH_PORT, BENCH_UPSTREAM, BENCH_MODEL and BENCH_WORKDIR.
# LLMS_PYTHON: the interpreter (default python3; needs aiohttp, orjson and uvloop importable).
# Extra arguments go to `llms` (e.g. --verbose).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py=${LLMS_PYTHON:-python3}
home="$BENCH_WORKDIR/llms-home"
mkdir -p "$home"
cat >"$home/llms.json" <<JSON
{
  "defaults": {"headers": {"Content-Type": "application/json"}},
  "limits": {"client_max_size": 20971520},
  "providers": {
    "mock": {
      "enabled": true,
      "type": "OpenAiProvider",
      "base_url": "$BENCH_UPSTREAM",
      "api_key": "sk-mock",
      "models": {"$BENCH_MODEL": "$BENCH_MODEL"}
    }
  }
}
JSON
export LLMS_HOME="$home" PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m llms --serve "$BENCH_PORT" --config "$home/llms.json" "$@"
