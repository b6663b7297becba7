#!/usr/bin/env python3
"""Profile the gateway under load: starts the mock and the gateway (pinned like run.py), runs
wrk (non-streaming, closed loop) or the streaming client while `py-spy record` samples the
gateway, then stops everything and prints where the time went (self and inclusive, by
function) from py-spy's collapsed stacks. py-spy: `pip install py-spy`.

  python3 benchmarks/profile.py                       # this repo's gateway, wrk c=64 for 10 s
  python3 benchmarks/profile.py -c 1 --seconds 10     # per-request overhead at one connection
  python3 benchmarks/profile.py --stream -c 32        # streaming
Output: OUT/profile.txt (collapsed stacks, for any flame-graph tool), OUT/top.txt.
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402


def gateway_python(sid):
    """The Python process of the gateway's session (the command may start it through bash)."""
    for pid in sorted(bench.group_pids(sid)):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().startswith("python"):
                    return pid
        except OSError:
            continue
    return sid


def summarize(collapsed_path, top, rate=None, requests=None):
    self_t = collections.Counter()
    incl = collections.Counter()
    total = 0
    with open(collapsed_path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(n)
            total += n
            frames = stack.split(";")
            self_t[frames[-1]] += n
            for fr in set(frames):
                incl[fr] += n
    # With the sample rate and the request count, a share of samples is also CPU time per request.
    per_req = 1e6 / rate / requests if rate and requests else None

    def row(n, fr):
        us = f"{n * per_req:7.2f} us/req  " if per_req else ""
        return f"{100.0 * n / total:6.2f}%  {us}{fr}"

    head = f"{total} samples"
    if per_req:
        head += f", {requests} requests: {total * per_req:.0f} us of sampled CPU per request"
    out = [head, "", "self time:"]
    out += [row(n, fr) for fr, n in self_t.most_common(top)]
    out += ["", "inclusive time:"]
    out += [row(n, fr) for fr, n in incl.most_common(top)]
    return "\n".join(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmd", default=os.path.join(here, "gateways", "llms.sh"))
    ap.add_argument("--url", default="http://127.0.0.1:18400")
    ap.add_argument("--mock-port", type=int, default=18480)
    ap.add_argument("--model", default="mock-model")
    ap.add_argument("--api-key", default="sk-bench")
    ap.add_argument("--chat-path", default="/v1/chat/completions")
    ap.add_argument("-c", "--connections", type=int, default=64)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--stream", action="store_true", help="profile streams instead of non-streamed requests")
    ap.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    ap.add_argument("--native", action="store_true", help="py-spy --native (C frames too)")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.stream_max_seconds = args.seconds
    if not shutil.which("py-spy"):
        sys.exit("py-spy not found: pip install py-spy")
    ncpu = os.cpu_count() or 1
    gw_cpus = {ncpu - 1} if ncpu >= 2 else None
    load_cpus = set(range(ncpu)) - gw_cpus if gw_cpus else None
    out = args.out or os.path.join(here, "results", "profile-" + time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    workdir = os.path.join(out, "gateway-work")
    os.makedirs(workdir, exist_ok=True)
    mock_base = f"http://127.0.0.1:{args.mock_port}"
    port = args.url.rsplit(":", 1)[1].split("/")[0]
    env = dict(os.environ, BENCH_PORT=port, BENCH_HOST="127.0.0.1", BENCH_UPSTREAM=mock_base,
               BENCH_UPSTREAM_V1=mock_base + "/v1", BENCH_MODEL=args.model, BENCH_WORKDIR=workdir,
               BENCH_API_KEY=args.api_key)
    gw_url = args.url.rstrip("/") + args.chat_path
    mock = gw = spy = requests = None
    try:
        mock = bench.start_process([bench.MOCK_BIN, "--port", str(args.mock_port)], os.path.join(out, "mock.log"),
                                   cpus=load_cpus)
        bench.wait_ready(mock_base + args.chat_path, args.api_key, args.model, mock, 10)
        gw = bench.start_process(["bash", "-c", args.cmd], os.path.join(out, "gateway.log"), env=env, cpus=gw_cpus)
        bench.wait_ready(gw_url, args.api_key, args.model, gw, 60)
        bench.run_wrk(gw_url, 4, 2, load_cpus, env, 1)  # warm-up
        target = gateway_python(gw.pid)
        spy_argv = ["py-spy", "record", "-p", str(target), "-r", str(args.rate), "-d", str(args.seconds + 1),
                    "--format", "raw", "-o", os.path.join(out, "profile.txt"), "--nonblocking"]
        if args.native:
            spy_argv.append("--native")
        pin = (lambda: os.sched_setaffinity(0, load_cpus)) if load_cpus else None
        spy = subprocess.Popen(spy_argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=pin)
        time.sleep(0.5)
        cpu0 = bench.group_usage(gw.pid)[1]
        t0 = time.time()
        s0 = bench.mock_stats(mock_base)
        if args.stream:
            args.stream_max_seconds = args.seconds
            r = bench.run_stream(gw_url, args.connections, args.connections * 10_000, load_cpus, args)
            print(f"streams: {r['ok']} ok, ttft p50 {r['ttft_ms']['p50']} ms")
        else:
            r = bench.run_wrk(gw_url, args.connections, args.seconds, load_cpus, env, 1)
            print(f"wrk c={args.connections}: {r['rps']:.0f} req/s, p50 {r['lat_p50_us'] / 1000:.3f} ms, "
                  f"p99 {r['lat_p99_us'] / 1000:.3f} ms, errors {r['errors']}")
        print(f"gateway CPU {100 * (bench.group_usage(gw.pid)[1] - cpu0) / (time.time() - t0):.0f}% (with py-spy attached)")
        s1 = bench.mock_stats(mock_base)
        requests = (s1["chat"] - s0["chat"]) if s0 and s1 else None
        spy.wait(timeout=args.seconds + 60)
    finally:
        if spy is not None and spy.poll() is None:
            spy.terminate()
        bench.stop_process(gw, "gateway")
        bench.stop_process(mock, "mock upstream")
    collapsed = os.path.join(out, "profile.txt")
    if os.path.exists(collapsed):
        report = summarize(collapsed, args.top, args.rate, requests)
        with open(os.path.join(out, "top.txt"), "w") as f:
            f.write(report + "\n")
        print(report)
    else:
        print("py-spy wrote no profile:", spy.stderr.read().decode() if spy else "")
    print(f"output: {out}")


if __name__ == "__main__":
    main()
