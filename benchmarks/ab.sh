#!/usr/bin/env bash
# Interleaved A/B rounds of this repo's gateway with different llms.json top-level keys (run by
# hand): each round runs every variant once, back to back, so the machine's drift hits all
# alike; compare.py then prints the per-round rows and the medians per variant.
#   benchmarks/ab.sh ROUNDS NAME='"json": "members",' NAME2='…' …
# e.g. benchmarks/ab.sh 3 all-on='' ledger-off='"usage": false,' metrics-off='"telemetry": false,'
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rounds=$1; shift
out="$here/results/ab-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
files=()
for r in $(seq "$rounds"); do
  for v in "$@"; do
    name=${v%%=*} extra=${v#*=}
    LLMS_BENCH_CONFIG="$extra" "$here/run.sh" --name "$name" --rounds 1 --levels 1,64 --duration 6 \
      --stream-levels 1 --rss-streams 0 --out "$out/$name-$r" >"$out/$name-$r.log" 2>&1
    files+=("$out/$name-$r/results.json")
  done
done
python3 "$here/compare.py" "${files[@]}" | tee "$out/compare.txt"
