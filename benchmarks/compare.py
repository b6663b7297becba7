#!/usr/bin/env python3
"""Compact comparison of several run.py results.json files, one row per (run, round).

usage: python3 benchmarks/compare.py OUT1/results.json OUT2/results.json ...

Columns: added latency p50/p99 at c=1 (ms), RPS at each non-streaming level, added latency p50
at the highest level, streamed TTFT added p50/p99 at each stream level, whether the answer to a
streamed request was SSE, median inter-chunk gap at the highest stream level, idle and peak RSS,
start-up time, and the most CPU other processes used during any pair (noise).
Then, per gateway name, the median and range of the main metrics over all rounds given.
"""

import json
import sys


def f(x, nd=1):
    return "-" if x is None else f"{x:.{nd}f}"


def main(paths):
    rows = []
    for p in paths:
        with open(p) as fh:
            r = json.load(fh)
        m = r["meta"]
        rounds = sorted({x["round"] for x in r["nonstream"]} | {x["round"] for x in r["stream"]})
        for rnd in rounds:
            ns = {x["c"]: x for x in r["nonstream"] if x["round"] == rnd}
            st = {x["c"]: x for x in r["stream"] if x["round"] == rnd}
            cells = {"name": m["name"], "run": m["started"][11:16], "round": rnd}
            others = [x.get("other_cores") for x in list(ns.values()) + list(st.values())
                      if x.get("other_cores") is not None]
            cells["other"] = max(others) if others else None
            levels = sorted(ns)
            for c in levels:
                g, d = ns[c]["gateway"], ns[c]["direct"]
                cells[f"rps{c}"] = g["rps"] if g else None
                cells[f"add50_{c}"] = (g["lat_p50_us"] - d["lat_p50_us"]) / 1000 if g else None
                cells[f"add99_{c}"] = (g["lat_p99_us"] - d["lat_p99_us"]) / 1000 if g else None
                cells[f"err{c}"] = g["errors"] if g else None
            slevels = sorted(st)
            for c in slevels:
                g, d = st[c]["gateway"], st[c]["direct"]
                if g and g.get("ttft_ms"):
                    cells[f"tt50_{c}"] = g["ttft_ms"]["p50"] - d["ttft_ms"]["p50"]
                    cells[f"tt99_{c}"] = g["ttft_ms"]["p99"] - d["ttft_ms"]["p99"]
                    cells[f"sse{c}"] = f"{g['sse_responses']}/{g['ok']}"
                    cells[f"gap{c}"] = (g.get("gap_ms") or {}).get("p50")
            cells["idle"] = m.get("idle_rss_mb")
            cells["peak"] = m.get("peak_rss_mb")
            cells["ready"] = m.get("ready_s")
            rows.append((levels, slevels, cells))
    if not rows:
        return 1
    levels, slevels, _ = rows[0]
    hi, shi = levels[-1], slevels[-1] if slevels else None
    head = ["gateway", "run", "rnd", "added p50/p99 c=1"] + [f"RPS c={c}" for c in levels] + \
           [f"added p50 c={hi}"] + [f"TTFT added p50/p99 c={c}" for c in slevels] + \
           ["SSE", f"gap p50 c={shi}", "RSS idle/peak MB", "ready s", "other CPU"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for _, _, c in rows:
        cols = [c["name"], c["run"], str(c["round"]),
                f"{f(c.get('add50_1'), 2)}/{f(c.get('add99_1'), 2)}"]
        cols += [f(c.get(f"rps{l}"), 0) + (f" ({c[f'err{l}']} err)" if c.get(f"err{l}") else "") for l in levels]
        cols += [f(c.get(f"add50_{hi}"), 0)]
        cols += [f"{f(c.get(f'tt50_{s}'))}/{f(c.get(f'tt99_{s}'))}" for s in slevels]
        cols += [c.get(f"sse{slevels[0]}", "-") if slevels else "-", f(c.get(f"gap{shi}"), 2)]
        cols += [f"{f(c.get('idle'), 0)}/{f(c.get('peak'), 0)}", f(c.get("ready"), 1), f(c.get("other"), 2)]
        print("| " + " | ".join(cols) + " |")

    # per gateway: median [min-max] over all its rounds
    keys = [("add50_1", "added p50 c=1 ms", 2), ("add99_1", "added p99 c=1 ms", 2)]
    keys += [(f"rps{l}", f"RPS c={l}", 0) for l in levels]
    keys += [(f"add50_{l}", f"added p50 c={l} ms", 0) for l in levels[1:]]
    keys += [(f"tt50_{s_}", f"TTFT added p50 c={s_} ms", 1) for s_ in slevels]
    keys += [(f"gap{shi}", f"gap p50 c={shi} ms", 2), ("idle", "idle RSS MB", 0), ("peak", "peak RSS MB", 0)]
    names = []
    for _, _, c in rows:
        if c["name"] not in names:
            names.append(c["name"])
    print()
    print("| metric (median [min-max] over rounds) | " + " | ".join(names) + " |")
    print("|" + "---|" * (len(names) + 1))
    for k, label, nd in keys:
        cells = []
        for n in names:
            vals = sorted(c[k] for _, _, c in rows if c["name"] == n and c.get(k) is not None)
            if not vals:
                cells.append("-")
                continue
            med = vals[len(vals) // 2] if len(vals) % 2 else (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2
            cells.append(f"{f(med, nd)} [{f(vals[0], nd)}-{f(vals[-1], nd)}]")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\nrounds per gateway: " + ", ".join(f"{n} {sum(1 for _, _, c in rows if c['name'] == n)}" for n in names))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
