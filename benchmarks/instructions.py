#!/usr/bin/env python3
"""CPU instructions the gateway executes per request, counted by valgrind's callgrind: a
noise-free companion to run.py for before/after comparisons on a busy machine (wall-clock
latency and req/s move with whatever else the machine runs; instruction counts do not, to
within ~0.2 %). Kernel work (the socket syscalls) is not counted, so this measures the
Python side of the hot path only; the real timings still come from run.py.

  python3 benchmarks/instructions.py                       # the working tree (src/)
  python3 benchmarks/instructions.py --rev HEAD~1 --rev HEAD   # two commits, side by side
  python3 benchmarks/instructions.py --stream -n 300       # streamed requests (5 content chunks)
  python3 benchmarks/instructions.py --ledger off          # the usage ledger off (default: SQLite)
  python3 benchmarks/instructions.py --telemetry off       # no metrics (default: on); `traces`: also
                                                           # spans, exported to the mock (which refuses them)
  python3 benchmarks/instructions.py --auth key            # client keys required, a key with rpm/tpm/budget
  python3 benchmarks/instructions.py --auth redis://127.0.0.1:6379/0   # …counted in that Redis

Each target: start the mock (pinned to CPU 0) and the gateway under
`valgrind --tool=callgrind --instr-atstart=no`, send 200 warm-up requests, switch counting on,
send exactly -n requests from -c keep-alive connections (sequential per connection), switch it
off, dump, stop both. Counted per thread: the total, and the event loop's share (the usage
ledger's writer thread works off the request path). Needs `valgrind` (apt-get install -y valgrind). Output per target:
thousands of instructions per request; `--annotate` also prints callgrind_annotate's top
C functions (orjson, aiohttp's C parts, the interpreter).
"""

import argparse
import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as bench  # noqa: E402


def source_tree(rev, scratch):
    """A directory to put on PYTHONPATH: the working tree's src, or `git archive REV src`."""
    if rev is None:
        return os.path.join(REPO, "src")
    dest = os.path.join(scratch, "rev-" + rev.replace("/", "_").replace("~", "-").replace("^", "-"))
    os.makedirs(dest, exist_ok=True)
    archive = subprocess.run(["git", "-C", REPO, "archive", rev, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return os.path.join(dest, "src")


def chat_body(model, stream):
    return json.dumps({"model": model, "stream": stream, "max_tokens": 64, "temperature": 0.7, "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Write one sentence about a quick brown fox that jumps over a lazy dog."}],
    }).encode()


def send(port, body, total, conns, key="sk-bench"):
    errors = []

    def one_connection(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            for _ in range(k):
                c.request("POST", "/v1/chat/completions", body,
                          {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
                r = c.getresponse()
                data = r.read()
                if r.status != 200:
                    errors.append(f"HTTP {r.status}: {data[:200]!r}")
        finally:
            c.close()

    threads = [threading.Thread(target=one_connection, args=(total // conns,)) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")


def measure(label, src, args, scratch):
    work = os.path.join(scratch, "work-" + label.replace("/", "_"))
    os.makedirs(work, exist_ok=True)
    mock_base = f"http://127.0.0.1:{args.mock_port}"
    cfg = os.path.join(work, "llms.json")
    with open(cfg, "w") as f:
        config = {"providers": {"mock": {"type": "OpenAiProvider", "base_url": mock_base, "api_key": "sk-mock",
                                         "models": {args.model: args.model}}}}
        if args.ledger == "off":
            config["usage"] = False
        elif args.ledger != "sqlite":
            config["usage"] = {"dsn": args.ledger}
        if args.telemetry == "off":
            config["telemetry"] = False
        elif args.telemetry == "traces":
            config["telemetry"] = {"otlp_endpoint": mock_base}
        if args.auth != "off":
            config["auth"] = {"required": True}
        if args.auth.startswith("redis"):
            config["limits"] = {"redis_url": args.auth}
        json.dump(config, f)
    out = os.path.join(work, "callgrind.out")
    for old in glob.glob(out + "*"):
        os.remove(old)
    env = dict(os.environ, LLMS_HOME=work, PYTHONPATH=src)
    key = "sk-bench"
    if args.auth != "off":  # a key with every kind of limit, none of which the run reaches
        made = subprocess.run([args.python, "-m", "llms", "--config", cfg, "keys", "create", "--name", "bench",
                               "--rpm", "100000000", "--tpm", "1000000000", "--budget", "1000000", "--period", "day"],
                              env=env, capture_output=True, text=True, check=True)
        key = made.stdout.strip().splitlines()[-1]
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
            f"--callgrind-out-file={out}",
            args.python, "-m", "llms", "--serve", str(args.port), "--config", cfg]
    mock = gw = None
    body = chat_body(args.model, args.stream)
    try:
        mock = bench.start_process([bench.MOCK_BIN, "--port", str(args.mock_port), "--chunks", str(args.chunks),
                                    "--chunk-delay-ms", "0"], os.path.join(work, "mock.log"), cpus={0})
        bench.wait_ready(mock_base + "/v1/chat/completions", "sk", args.model, mock, 10)
        gw = bench.start_process(argv, os.path.join(work, "gateway.log"), env=env)
        bench.wait_ready(f"http://127.0.0.1:{args.port}/v1/chat/completions", key, args.model, gw, 300)
        send(args.port, body, 200, args.connections, key)
        subprocess.run(["callgrind_control", "-i", "on", str(gw.pid)], capture_output=True, check=True)
        t0 = time.time()
        send(args.port, body, args.requests, args.connections, key)
        wall = time.time() - t0
        subprocess.run(["callgrind_control", "-i", "off", str(gw.pid)], capture_output=True, check=True)
        subprocess.run(["callgrind_control", "-d", str(gw.pid)], capture_output=True, check=True)
        time.sleep(0.5)
    finally:
        bench.stop_process(gw, "gateway")
        bench.stop_process(mock, "mock upstream")
    # one file per thread: the biggest is the event loop's; the others are the usage ledger's writer
    # (and the log listener), which work off the request path but on the same process's CPU
    total, loop, biggest = 0, 0, None
    for path in glob.glob(out + "*"):
        with open(path) as f:  # (a dump's `summary:` may read 0; its `totals:` line counts)
            n = max((int(line.split()[1]) for line in f if line.startswith(("summary:", "totals:"))), default=0)
        total += n
        if n > loop:
            loop, biggest = n, path
    n = args.requests // args.connections * args.connections
    result = {"label": label, "k_instructions_per_request": round(total / n / 1000, 1),
              "k_event_loop": round(loop / n / 1000, 1), "requests": n,
              "stream": args.stream, "connections": args.connections, "wall_s": round(wall, 1)}
    if args.annotate and biggest:
        ann = subprocess.run(["callgrind_annotate", "--inclusive=no", biggest], capture_output=True, text=True).stdout
        result["annotate"] = "\n".join(ann.splitlines()[:60])
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rev", action="append", default=[],
                    help="a git revision to measure (repeatable); default: the working tree's src/")
    ap.add_argument("-n", "--requests", type=int, default=500)
    ap.add_argument("-c", "--connections", type=int, default=1)
    ap.add_argument("--stream", action="store_true", help="streamed requests")
    ap.add_argument("--chunks", type=int, default=5, help="mock: content chunks per stream / words per answer")
    ap.add_argument("--model", default="mock-model")
    ap.add_argument("--port", type=int, default=18400)
    ap.add_argument("--mock-port", type=int, default=18480)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--ledger", default="sqlite",
                    help="the usage ledger: sqlite (the default), off, or a postgresql:// DSN")
    ap.add_argument("--telemetry", default="on", choices=("on", "off", "traces"),
                    help="metrics on (the default), off, or on with traces too")
    ap.add_argument("--auth", default="off",
                    help="client keys: off (the default), key (required, one key with limits), or a redis:// URL "
                         "(the same, counted in that Redis)")
    ap.add_argument("--annotate", action="store_true", help="also print the top C functions")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind not found: apt-get install -y valgrind")
    if not os.path.exists(bench.MOCK_BIN):
        sys.exit("mock binary missing: run benchmarks/run.sh once (it builds it), or cargo build --release "
                 "--manifest-path benchmarks/mock-upstream/Cargo.toml")
    for what, port in (("mock", args.mock_port), ("gateway", args.port)):
        if not bench.port_free("127.0.0.1", port):
            sys.exit(f"{what} port {port} is already in use (another benchmark?); pick another: --port / --mock-port")
    scratch = tempfile.mkdtemp(prefix="llms-instructions-")
    results = []
    try:
        for rev in args.rev or [None]:
            src = source_tree(rev, scratch)
            label = (rev or "working tree") + ("" if args.ledger == "sqlite" else f" ledger={args.ledger[:10]}")
            label += "" if args.telemetry == "on" else f" telemetry={args.telemetry}"
            label += "" if args.auth == "off" else f" auth={args.auth[:8]}"
            r = measure(label, src, args, scratch)
            results.append(r)
            print(f"{label:24s} {'stream' if args.stream else 'non-stream'} c={args.connections}: "
                  f"{r['k_instructions_per_request']:.1f} k instructions/request, of which the event loop "
                  f"{r['k_event_loop']:.1f} k ({r['requests']} requests)",
                  flush=True)
            if r.get("annotate"):
                print(r["annotate"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if len(results) > 1:
        base = results[0]["k_instructions_per_request"]
        for r in results[1:]:
            d = r["k_instructions_per_request"] - base
            print(f"{r['label']} vs {results[0]['label']}: {d:+.1f} k ({100 * d / base:+.1f} %)")
    print("INSTRJSON " + json.dumps([{k: v for k, v in r.items() if k != "annotate"} for r in results]))


if __name__ == "__main__":
    main()
