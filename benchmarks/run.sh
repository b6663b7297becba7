#!/usr/bin/env bash
# Gateway overhead benchmark (run by hand; never in CI). Builds the mock upstream if needed,
# picks a Python with aiohttp, then runs run.py.
#
#   benchmarks/run.sh                 # this repo's gateway (src/llms), 2 rounds + 1,000-stream RSS phase
#   benchmarks/run.sh --rounds 3 --quiet-below 0.3
#   benchmarks/run.sh --name other --url http://127.0.0.1:18300 --cmd 'COMMAND {port} {upstream_v1}'
#
# Without --cmd it benchmarks src/llms via gateways/llms.sh on 127.0.0.1:18400 with the mock on
# 18480, writes into benchmarks/results/<date-time>/ and records the commit and library versions.
# See README.md for the placeholders and options (benchmarks/run.sh --help).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
bin="$here/mock-upstream/target/release/mock-upstream"
if [ ! -x "$bin" ] || [ "$here/mock-upstream/src/main.rs" -nt "$bin" ]; then
  cargo_bin=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
  "$cargo_bin" build --release --offline --quiet --manifest-path "$here/mock-upstream/Cargo.toml" >&2
fi
py="${BENCH_PYTHON:-}"
if [ -z "$py" ]; then
  if python3 -c 'import aiohttp' 2>/dev/null; then
    py=python3
  else
    if [ ! -x "$here/.venv/bin/python" ]; then
      python3 -m venv "$here/.venv" >&2
      "$here/.venv/bin/pip" install -q aiohttp >/dev/null 2>&1 \
        || { echo "could not pip install aiohttp into $here/.venv" >&2; exit 1; }
    fi
    py="$here/.venv/bin/python"
  fi
fi
defaults=()
case " $* " in
  *" --cmd "*|*" --cmd="*|*" -h "*|*" --help "*) ;;
  *)
    gw_py=${LLMS_PYTHON:-python3}
    rev=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo "?")
    git -C "$here/.." diff --quiet HEAD -- "$here/../src" 2>/dev/null || rev="$rev+dirty"
    versions=$("$gw_py" -c 'import sys, aiohttp, orjson
try:
    import uvloop; u = uvloop.__version__
except ImportError:
    u = "absent"
print(f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, orjson {orjson.__version__}, uvloop {u}")' 2>/dev/null || echo "versions unknown")
    defaults=(--name llms --url http://127.0.0.1:18400 --mock-port 18480 --cmd "$here/gateways/llms.sh"
              --out "$here/results/$(date +%Y%m%d-%H%M%S)" --note "llms $rev; $versions")
    ;;
esac
exec "$py" "$here/run.py" "${defaults[@]}" "$@"
