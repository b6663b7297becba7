#!/usr/bin/env python3
"""Gateway overhead benchmark driver.

Starts the mock upstream, starts the gateway under test pointed at it, and measures,
per concurrency level and per round, direct-to-upstream versus through-gateway:

  non-streaming (wrk, closed loop, fixed connections, --duration s per level):
      latency p50/p99, requests/s, HTTP errors, gateway CPU, gateway RSS
  streaming (load/stream_client.py, bounded request count):
      TTFT p50/p99, inter-chunk gaps, total stream time, SSE or not

and prints "added" = gateway - direct at the same concurrency, measured back to back.
It stops everything it started, by process group id, and writes results.json and
summary.md into --out.

Placeholders in --cmd: {port} {host} {upstream} (mock base URL, no /v1)
{upstream_v1} {model} {workdir}. The same values are exported to the gateway as
BENCH_PORT, BENCH_HOST, BENCH_UPSTREAM, BENCH_UPSTREAM_V1, BENCH_MODEL, BENCH_WORKDIR,
BENCH_API_KEY.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK_BIN = os.path.join(HERE, "mock-upstream", "target", "release", "mock-upstream")
WRK_SCRIPT = os.path.join(HERE, "load", "chat.lua")
STREAM_CLIENT = os.path.join(HERE, "load", "stream_client.py")
PAGE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------- process handling

def cpu_set(spec):
    if not spec:
        return None
    out = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return out


def start_process(argv, log_path, env=None, cpus=None, cwd=None):
    """Start argv in its own session/process group, optionally pinned to cpus."""
    def preexec():
        if cpus:
            os.sched_setaffinity(0, cpus)
    logf = open(log_path, "ab")
    proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd, start_new_session=True, preexec_fn=preexec)
    proc._bench_log = logf  # noqa: SLF001  (closed in stop_process)
    return proc


def stop_process(proc, name, grace=10.0):
    """SIGTERM the process group we created (pgid == pid), then SIGKILL it."""
    if proc is None:
        return
    pgid = proc.pid
    if proc.poll() is None or group_alive(pgid):
        log(f"stopping {name} (pgid {pgid})")
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + grace
        while time.time() < deadline and group_alive(pgid):
            try:
                proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
        if group_alive(pgid):
            log(f"{name} still alive after {grace}s, SIGKILL to pgid {pgid}")
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    try:
        proc._bench_log.close()  # noqa: SLF001
    except Exception:  # noqa: BLE001
        pass


def group_pids(sid):
    """PIDs whose session id is `sid` (the gateway and every child it forked)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        # fields[0] is state (field 3); session is field 6 -> index 3
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(d))
    return pids


def group_alive(sid):
    return bool(group_pids(sid))


def group_usage(sid):
    """(rss_bytes, cpu_seconds, nprocs) summed over the session."""
    rss = 0
    cpu = 0.0
    pids = group_pids(sid)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            fields = stat[stat.rfind(")") + 2:].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return rss, cpu, len(pids)


def cpu_snapshot(gw_sid, mock_sid):
    """(time, machine busy s, machine steal s, CPU s used by everything this run started)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    t = os.times()
    mine = t.user + t.system + t.children_user + t.children_system  # driver + reaped wrk/clients
    for sid in (gw_sid, mock_sid):
        if sid:
            mine += group_usage(sid)[1]
    return (time.time(), (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK, mine)


def other_cpu(s0, s1):
    """Cores used by processes this run did not start (noise), and steal, between two snapshots."""
    wall = max(1e-6, s1[0] - s0[0])
    return {"other_cores": round(max(0.0, (s1[1] - s0[1]) - (s1[3] - s0[3])) / wall, 3),
            "steal_cores": round((s1[2] - s0[2]) / wall, 3)}


def busy_cores(window=5.0):
    def rd():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return (v[0] + v[1] + v[2] + v[5] + v[6]) / CLK_TCK
    a = rd()
    time.sleep(window)
    return (rd() - a) / window


def port_free(host, port):
    import socket
    with socket.socket() as so:
        so.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            so.bind((host, port))
            return True
        except OSError:
            return False


def wait_quiet(threshold, max_wait):
    t0 = time.time()
    while True:
        b = busy_cores()
        if b < threshold:
            log(f"machine quiet: {b:.2f} cores busy")
            return True
        if time.time() - t0 > max_wait:
            log(f"machine still busy ({b:.2f} cores) after {max_wait:.0f}s; going on")
            return False
        log(f"waiting for a quiet machine: {b:.2f} cores busy")


class Sampler(threading.Thread):
    """Samples RSS of the gateway's process tree every `interval` s, tracking peaks per phase."""

    def __init__(self, sid, interval=0.1):
        super().__init__(daemon=True)
        self.sid = sid
        self.interval = interval
        self.phase = "startup"
        self.peaks = {}
        self.overall_peak = 0
        self.last = (0, 0.0, 0)
        self._halt = threading.Event()
        self.lock = threading.Lock()

    def set_phase(self, name):
        with self.lock:
            self.phase = name
            self.peaks.setdefault(name, 0)

    def run(self):
        while not self._halt.is_set():
            rss, cpu, n = group_usage(self.sid)
            with self.lock:
                self.last = (rss, cpu, n)
                self.overall_peak = max(self.overall_peak, rss)
                self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()


# ---------------------------------------------------------------- HTTP helpers

def http(method, url, body=None, headers=None, timeout=10.0):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def chat_body(model, stream):
    return {
        "model": model, "stream": stream, "max_tokens": 64, "temperature": 0.7,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Write one sentence about a quick brown fox that jumps over a lazy dog."},
        ],
    }


def wait_ready(chat_url, api_key, model, proc, timeout_s):
    """Poll with a real non-streaming chat request until it returns 200 with content."""
    deadline = time.time() + timeout_s
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before becoming ready")
        try:
            status, _, raw = http("POST", chat_url, chat_body(model, False),
                                  {"Authorization": f"Bearer {api_key}"}, timeout=5)
            if status == 200:
                return time.time()
            last = f"HTTP {status}: {raw[:200]!r}"
        except Exception as e:  # noqa: BLE001
            last = f"{type(e).__name__}: {e}"
        time.sleep(0.5)
    raise RuntimeError(f"not ready after {timeout_s}s; last: {last}")


def mock_stats(mock_base):
    try:
        _, _, raw = http("GET", mock_base + "/mock/stats", timeout=5)
        return json.loads(raw)
    except Exception:  # noqa: BLE001
        return None


def smoke(chat_url, api_key, model, mock_base):
    """Functional checks, one request each: JSON answer intact; streamed answer intact and SSE;
    how many upstream calls each made, whether they were streamed upstream, and the upstream
    request body size compared with the client's."""
    out = {}
    auth = {"Authorization": f"Bearer {api_key}"}
    for kind, stream in (("nonstream", False), ("stream", True)):
        body = chat_body(model, stream)
        s0 = mock_stats(mock_base)
        hdrs = dict(auth, Accept="text/event-stream") if stream else auth
        status, rh, raw = http("POST", chat_url, body, hdrs, timeout=60)
        time.sleep(0.2)
        s1 = mock_stats(mock_base)
        out[f"{kind}_status"] = status
        ctype = {k.lower(): v for k, v in rh.items()}.get("content-type", "")
        out[f"{kind}_content_type"] = ctype.split(";")[0]
        text = raw.decode("utf-8", "replace")
        if stream:
            out["stream_data_events"] = text.count("data:")
            out["stream_done_marker"] = "data: [DONE]" in text
            out["stream_content_ok"] = "quick" in text and "fox" in text
        else:
            try:
                obj = json.loads(raw)
                out["nonstream_content_ok"] = "quick brown fox" in obj["choices"][0]["message"]["content"]
                out["nonstream_usage_completion_tokens"] = obj.get("usage", {}).get("completion_tokens")
            except Exception:  # noqa: BLE001
                out["nonstream_content_ok"] = False
                out["nonstream_error"] = text[:200]
        if s0 and s1:
            out[f"{kind}_upstream_calls"] = s1["chat"] - s0["chat"]
            out[f"{kind}_upstream_streamed"] = s1["streams"] - s0["streams"]
            out[f"{kind}_upstream_body_bytes"] = s1.get("chat_body_bytes", 0) - s0.get("chat_body_bytes", 0)
            out[f"{kind}_client_body_bytes"] = len(json.dumps(body))
    # A request without a "stream" key (what many SDKs send for non-streamed calls): is it
    # streamed upstream? And does the gateway reuse upstream connections (new connections
    # the mock accepted over 3 sequential requests; 0 means a kept-alive pool)?
    body = chat_body(model, False)
    del body["stream"]
    s0 = mock_stats(mock_base)
    statuses = [http("POST", chat_url, body, auth, timeout=60)[0] for _ in range(3)]
    time.sleep(0.2)
    s1 = mock_stats(mock_base)
    out["nostreamkey_status"] = statuses
    if s0 and s1:
        out["nostreamkey_upstream_streamed"] = s1["streams"] - s0["streams"]
        # the mock counts a connection at accept, so s1's own stats request is included: -1
        out["upstream_new_connections_per_3_requests"] = s1["connections"] - s0["connections"] - 1
    return out


# ---------------------------------------------------------------- load runners

def run_wrk(url, conns, duration, cpus, env, threads):
    threads = max(1, min(threads, conns))
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "30s",
            "-s", WRK_SCRIPT, url]
    def preexec():
        if cpus:
            os.sched_setaffinity(0, cpus)
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 60,
                       preexec_fn=preexec)
    for line in p.stdout.splitlines():
        if line.startswith("WRKJSON "):
            r = json.loads(line[8:])
            r["rps"] = round(r["requests"] / (r["duration_us"] / 1e6), 1) if r["duration_us"] else 0
            r["errors"] = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_status"] + r["err_timeout"]
            return r
    raise RuntimeError(f"wrk produced no WRKJSON line (rc={p.returncode}): {p.stdout[-500:]} {p.stderr[-500:]}")


def run_stream(url, conns, nreq, cpus, args, extra_body=None):
    argv = [sys.executable, STREAM_CLIENT, "--url", url, "--chat-path", args.chat_path,
            "--model", args.model, "--api-key", args.api_key, "-c", str(conns), "-n", str(nreq),
            "--max-seconds", str(args.stream_max_seconds), "--json-only"]
    if extra_body:
        argv += ["--body", json.dumps({**chat_body(args.model, True), **extra_body})]
    def preexec():
        if cpus:
            os.sched_setaffinity(0, cpus)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=args.stream_max_seconds + 60,
                       preexec_fn=preexec)
    for line in p.stdout.splitlines():
        if line.startswith("STREAMJSON "):
            return json.loads(line[11:])
    raise RuntimeError(f"stream client produced no STREAMJSON (rc={p.returncode}): {p.stdout[-500:]} {p.stderr[-800:]}")


def rss_phase(gw, mock, mock_base, gw_url, load_cpus, args, sampler):
    """N streams at once through the gateway, each slow enough (N chunks x delay) that they all
    overlap: the gateway's peak RSS with N open client and upstream connections."""
    n = args.rss_streams
    out = {"requested": n, "chunk_delay_ms": args.rss_chunk_delay_ms}
    time.sleep(1.0)
    out["rss_before_mb"] = group_usage(gw.pid)[0] / 2**20
    log(f"RSS phase: {n} concurrent streams (chunk delay {args.rss_chunk_delay_ms} ms), "
        f"RSS before {out['rss_before_mb']:.1f} MB")
    snap0 = cpu_snapshot(gw.pid, mock.pid)
    s0 = mock_stats(mock_base)
    sampler.set_phase("rss-streams")
    cpu0 = group_usage(gw.pid)[1]
    t_start = time.time()
    try:
        g = run_stream(gw_url, n, n, load_cpus, args, extra_body={"x_mock_chunk_delay_ms": args.rss_chunk_delay_ms})
        out["client"] = g
        log(f"  {g['ok']}/{g['completed']} ok, at most {g.get('max_concurrent')} open at once, errors {g['errors']} "
            f"{g.get('error_samples')}")
    except Exception as e:  # noqa: BLE001
        out["error"] = str(e)[:300]
        log(f"  RSS phase failed: {e}")
    out["gw_cpu_pct"] = 100.0 * (group_usage(gw.pid)[1] - cpu0) / (time.time() - t_start)
    out["peak_rss_mb"] = sampler.peaks.get("rss-streams", 0) / 2**20
    s1 = mock_stats(mock_base)
    if s0 and s1:
        out["upstream_new_connections"] = s1["connections"] - s0["connections"] - 1
    out.update(other_cpu(snap0, cpu_snapshot(gw.pid, mock.pid)))
    sampler.set_phase("after-rss")
    time.sleep(3.0)
    out["rss_after_mb"] = group_usage(gw.pid)[0] / 2**20
    log(f"  peak RSS {out['peak_rss_mb']:.1f} MB, 3 s later {out['rss_after_mb']:.1f} MB")
    return out


# ---------------------------------------------------------------- report

def ms(us):
    return None if us is None else us / 1000.0


def f1(x, nd=2):
    if x is None:
        return "-"
    return f"{x:.{nd}f}"


def loaded_libraries(sid, needles):
    """Which of `needles` appear in the memory maps of the session's processes (e.g. whether the
    gateway really runs on uvloop: its compiled loop module is mapped only once imported)."""
    found = {n: False for n in needles}
    for pid in group_pids(sid):
        try:
            with open(f"/proc/{pid}/maps") as f:
                maps = f.read()
        except OSError:
            continue
        for n in needles:
            found[n] = found[n] or n in maps
    return found


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


# The gateway's goals (issue 2): one process on one core, mock answering instantly.
GOALS = [
    ("added latency p50 at 1 conn (ms)", "<=", 0.5),
    ("added latency p99 at 1 conn (ms)", "<=", 2.0),
    ("req/s at 64 conns", ">=", 4000),
    ("added TTFT p50 at 1 stream (ms)", "<=", 1.0),
    ("chunk gap p50 at 1 stream (ms, mock sends every --chunk-delay-ms)", "~", None),
    ("RSS idle (MB)", "<=", 60),
    ("RSS peak with the concurrent streams of the RSS phase (MB)", "<=", 150),
]


def goal_values(res):
    """Median over rounds of each goal metric (None when not measured)."""
    ns = {c: [r for r in res["nonstream"] if r["c"] == c and r["gateway"]] for c in (1, 64)}
    st1 = [r for r in res["stream"] if r["c"] == 1 and r["gateway"] and r["gateway"].get("ttft_ms")]
    rss = res.get("rss_streams") or {}
    return [
        median([ms(r["gateway"]["lat_p50_us"] - r["direct"]["lat_p50_us"]) for r in ns[1]]),
        median([ms(r["gateway"]["lat_p99_us"] - r["direct"]["lat_p99_us"]) for r in ns[1]]),
        median([r["gateway"]["rps"] for r in ns[64]]),
        median([r["gateway"]["ttft_ms"]["p50"] - r["direct"]["ttft_ms"]["p50"] for r in st1]),
        median([(r["gateway"].get("gap_ms") or {}).get("p50") for r in st1]),
        res["meta"].get("idle_rss_mb"),
        rss.get("peak_rss_mb"),
    ]


def goals_table(res):
    meta = res["meta"]
    lines = ["Against the goals (median over rounds)", "",
             "| metric | goal | measured | met |", "|---|---|---|---|"]
    for (name, op, target), value in zip(GOALS, goal_values(res)):
        if op == "~":
            goal = f"≈ {meta['chunk_delay_ms']}"
            met = None if value is None else abs(value - meta["chunk_delay_ms"]) <= max(1.0, 0.1 * meta["chunk_delay_ms"])
        else:
            goal = f"{'≤' if op == '<=' else '≥'} {target:g}"
            met = None if value is None else (value <= target if op == "<=" else value >= target)
        lines.append(f"| {name} | {goal} | {f1(value, 0 if 'req/s' in name else 2)} "
                     f"| {'-' if met is None else ('yes' if met else 'NO')} |")
    lines.append("")
    return lines


def build_report(res):
    lines = []
    meta = res["meta"]
    lines.append(f"## {meta['name']}  ({meta['started']})")
    lines.append("")
    lines.append(f"- gateway cmd: `{meta['cmd']}`")
    if meta.get("note"):
        lines.append(f"- note: {meta['note']}")
    lines.append(f"- url: {meta['url']}  model: {meta['model']}  pin: gateway cpus={meta['gw_cpus']} "
                 f"load+mock cpus={meta['load_cpus']}")
    lines.append(f"- mock: chunks={meta['chunks']} chunk_delay_ms={meta['chunk_delay_ms']} "
                 f"latency_ms={meta['latency_ms']}; wrk {meta['duration']}s per level")
    lines.append(f"- loadavg start: {meta['loadavg_start']}  end: {meta.get('loadavg_end')} (the end value includes "
                 f"this run's own threads); CPU used by processes this run did not start: "
                 f"{f1(meta.get('run_other_cores'))} cores on average, steal {f1(meta.get('run_steal_cores'))}")
    lines.append(f"- gateway ready after {f1(meta.get('ready_s'), 1)} s; idle RSS "
                 f"{f1(meta.get('idle_rss_mb'), 1)} MB; peak RSS {f1(meta.get('peak_rss_mb'), 1)} MB; "
                 f"processes {meta.get('gw_procs')}")
    if meta.get("libraries") is not None:
        lines.append(f"- libraries mapped in the gateway: {json.dumps(meta['libraries'])}")
    sm = res.get("smoke") or {}
    lines.append(f"- smoke: {json.dumps(sm)}")
    lines.append("")
    lines.extend(goals_table(res))
    lines.append("Non-streaming (ms; added = gateway - direct at same concurrency, same round)")
    lines.append("")
    lines.append("| round | c | direct p50 | direct p99 | direct RPS | gw p50 | gw p99 | gw RPS | added p50 | added p99 "
                 "| gw errors | gw CPU % | upstream calls/req | peak RSS MB | other CPU |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in res["nonstream"]:
        d, g = row["direct"], row["gateway"]
        if g is None:
            lines.append(f"| {row['round']} | {row['c']} | {f1(ms(d['lat_p50_us']))} | {f1(ms(d['lat_p99_us']))} "
                         f"| {d['rps']:.0f} | FAILED: {row.get('error')} |||||||||")
            continue
        lines.append(
            f"| {row['round']} | {row['c']} | {f1(ms(d['lat_p50_us']))} | {f1(ms(d['lat_p99_us']))} | {d['rps']:.0f} "
            f"| {f1(ms(g['lat_p50_us']))} | {f1(ms(g['lat_p99_us']))} | {g['rps']:.0f} "
            f"| {f1(ms(g['lat_p50_us'] - d['lat_p50_us']))} | {f1(ms(g['lat_p99_us'] - d['lat_p99_us']))} "
            f"| {g['errors']} | {f1(row.get('gw_cpu_pct'), 0)} | {f1(row.get('upstream_per_req'), 2)} "
            f"| {f1(row.get('peak_rss_mb'), 1)} | {f1(row.get('other_cores'))} |")
    lines.append("")
    lines.append("Streaming (ms; TTFT = first content chunk; gap = between content chunks)")
    lines.append("")
    lines.append("| round | c | streams ok | SSE | direct TTFT p50/p99 | gw TTFT p50/p99 | added TTFT p50/p99 "
                 "| gw gap p50/p99 | gaps<1ms | direct total p50 | gw total p50 | gw streams/s | gw CPU % "
                 "| peak RSS MB | other CPU |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in res["stream"]:
        d, g = row["direct"], row["gateway"]
        if g is None or not g.get("ttft_ms"):
            err = row.get("error") or (g or {}).get("error_samples")
            lines.append(f"| {row['round']} | {row['c']} | FAILED: {err} |||||||||||")
            continue
        dt, gt = d["ttft_ms"], g["ttft_ms"]
        gg = g.get("gap_ms") or {}
        sse = f"{g['sse_responses']}/{g['ok']}"
        lines.append(
            f"| {row['round']} | {row['c']} | {g['ok']}/{g['completed']} | {sse} "
            f"| {f1(dt['p50'])}/{f1(dt['p99'])} | {f1(gt['p50'])}/{f1(gt['p99'])} "
            f"| {f1(gt['p50'] - dt['p50'])}/{f1(gt['p99'] - dt['p99'])} "
            f"| {f1(gg.get('p50'))}/{f1(gg.get('p99'))} | {f1(g.get('gaps_under_1ms_frac'), 2)} "
            f"| {f1(d['total_ms']['p50'], 1)} | {f1(g['total_ms']['p50'], 1)} | {f1(g['streams_per_s'], 1)} "
            f"| {f1(row.get('gw_cpu_pct'), 0)} | {f1(row.get('peak_rss_mb'), 1)} | {f1(row.get('other_cores'))} |")
    rs = res.get("rss_streams")
    if rs:
        lines.append("")
        lines.append(f"Concurrent streams (RSS): {rs['requested']} streams at once through the gateway, mock stream "
                     f"{meta['chunks']} chunks x {rs['chunk_delay_ms']} ms")
        lines.append("")
        lines.append("| streams ok | most open at once | errors | TTFT p50/p99 | gap p50/p99 | RSS before MB | peak RSS MB "
                     "| RSS 3 s after MB | gw CPU % | upstream connections opened | other CPU |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        g = rs.get("client") or {}
        t, gp = g.get("ttft_ms") or {}, g.get("gap_ms") or {}
        lines.append(f"| {g.get('ok')}/{g.get('completed')} | {g.get('max_concurrent')} | {g.get('errors')} "
                     f"{(g.get('error_samples') or [''])[0][:60] if g.get('errors') else ''} "
                     f"| {f1(t.get('p50'))}/{f1(t.get('p99'))} | {f1(gp.get('p50'))}/{f1(gp.get('p99'))} "
                     f"| {f1(rs.get('rss_before_mb'), 1)} | {f1(rs.get('peak_rss_mb'), 1)} "
                     f"| {f1(rs.get('rss_after_mb'), 1)} | {f1(rs.get('gw_cpu_pct'), 0)} "
                     f"| {rs.get('upstream_new_connections', '-')} | {f1(rs.get('other_cores'))} |")
    lines.append("")
    lines.append("other CPU = cores used by processes this run did not start, over the direct+gateway pair "
                 "(noise indicator; 2.00 would mean both cores taken).")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True, help="label for the gateway under test")
    ap.add_argument("--cmd", required=True, help="shell command that starts the gateway in the foreground")
    ap.add_argument("--url", required=True, help="gateway base URL, e.g. http://127.0.0.1:18100")
    ap.add_argument("--model", default="mock-model", help="model name clients send to the gateway")
    ap.add_argument("--api-key", default="sk-bench", help="bearer token clients send")
    ap.add_argument("--chat-path", default="/v1/chat/completions")
    ap.add_argument("--mock-port", type=int, default=18080)
    ap.add_argument("--chunks", type=int, default=20, help="mock: content chunks per stream")
    ap.add_argument("--chunk-delay-ms", type=int, default=10, help="mock: delay between chunks")
    ap.add_argument("--latency-ms", type=int, default=0, help="mock: fixed latency before headers")
    ap.add_argument("--levels", default="1,16,64", help="non-streaming connection counts")
    ap.add_argument("--stream-levels", default="1,32", help="streaming concurrency levels")
    ap.add_argument("--duration", type=int, default=10, help="seconds per non-streaming level")
    ap.add_argument("--stream-per-conn", type=int, default=20, help="streams per connection per level")
    ap.add_argument("--stream-min", type=int, default=30, help="minimum streams per level")
    ap.add_argument("--stream-max-seconds", type=float, default=90.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3, help="seconds of wrk warm-up (c=4) per target")
    ap.add_argument("--startup-timeout", type=float, default=120.0)
    ap.add_argument("--gw-cpus", default=None, help="CPUs for the gateway (default: last CPU when >=2)")
    ap.add_argument("--load-cpus", default=None, help="CPUs for mock+wrk+client (default: the others)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin anything")
    ap.add_argument("--out", default=None, help="output directory (default: a new temp dir)")
    ap.add_argument("--quiet-below", type=float, default=None,
                    help="before starting, wait until the machine uses less than this many cores "
                         "(5 s windows), at most --quiet-wait s")
    ap.add_argument("--quiet-wait", type=float, default=300.0)
    ap.add_argument("--note", default="", help="free text recorded with the results (e.g. versions)")
    ap.add_argument("--rss-streams", type=int, default=1000,
                    help="last phase: this many streams at once through the gateway, for peak RSS (0: skip)")
    ap.add_argument("--rss-chunk-delay-ms", type=int, default=250,
                    help="mock chunk delay in the RSS phase, so that the streams overlap (20 chunks x 250 ms = 5 s)")
    args = ap.parse_args()

    ncpu = os.cpu_count() or 1
    if args.no_pin or ncpu < 2:
        gw_cpus = load_cpus = None
    else:
        gw_cpus = cpu_set(args.gw_cpus) if args.gw_cpus else {ncpu - 1}
        load_cpus = cpu_set(args.load_cpus) if args.load_cpus else set(range(ncpu)) - gw_cpus
    wrk_threads = len(load_cpus) if load_cpus else ncpu

    if not os.path.exists(MOCK_BIN):
        sys.exit(f"mock binary missing: build it with: cargo build --release --manifest-path "
                 f"{os.path.relpath(os.path.join(HERE, 'mock-upstream', 'Cargo.toml'))}")
    if args.quiet_below is not None:
        wait_quiet(args.quiet_below, args.quiet_wait)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or tempfile.mkdtemp(prefix=f"gwbench-{args.name}-{stamp}-")
    os.makedirs(out, exist_ok=True)
    workdir = os.path.join(out, "gateway-work")
    os.makedirs(workdir, exist_ok=True)

    u = urllib.parse.urlparse(args.url)
    gw_host, gw_port = u.hostname, u.port or 80
    mock_base = f"http://127.0.0.1:{args.mock_port}"
    direct_url = mock_base + args.chat_path
    gw_url = args.url.rstrip("/") + args.chat_path
    subst = {"port": str(gw_port), "host": gw_host, "upstream": mock_base, "upstream_v1": mock_base + "/v1",
             "model": args.model, "workdir": workdir}
    cmd = args.cmd.format(**subst)
    for what, host, port in (("mock", "127.0.0.1", args.mock_port), ("gateway", gw_host, gw_port)):
        if not port_free(host, port):
            sys.exit(f"{what} port {host}:{port} is already in use; pick another (--mock-port / --url)")

    meta = {
        "name": args.name, "cmd": cmd, "url": args.url, "model": args.model,
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "ncpu": ncpu, "python": platform.python_version(),
        "gw_cpus": sorted(gw_cpus) if gw_cpus else "any", "load_cpus": sorted(load_cpus) if load_cpus else "any",
        "chunks": args.chunks, "chunk_delay_ms": args.chunk_delay_ms, "latency_ms": args.latency_ms,
        "duration": args.duration, "rounds": args.rounds, "loadavg_start": loadavg(),
        "note": args.note,
    }
    res = {"meta": meta, "nonstream": [], "stream": [], "smoke": None}
    log(f"output dir: {out}")
    log(f"loadavg: {meta['loadavg_start']}; gateway cpus {meta['gw_cpus']}, load cpus {meta['load_cpus']}")

    env = dict(os.environ)
    env.update({"BENCH_PORT": str(gw_port), "BENCH_HOST": gw_host, "BENCH_UPSTREAM": mock_base,
                "BENCH_UPSTREAM_V1": mock_base + "/v1", "BENCH_MODEL": args.model, "BENCH_WORKDIR": workdir,
                "BENCH_API_KEY": args.api_key})
    wrk_env = dict(env)
    wrk_env["BENCH_MODEL"] = args.model

    mock = gw = sampler = None
    try:
        mock = start_process([MOCK_BIN, "--port", str(args.mock_port), "--chunks", str(args.chunks),
                              "--chunk-delay-ms", str(args.chunk_delay_ms), "--latency-ms", str(args.latency_ms)],
                             os.path.join(out, "mock.log"), cpus=load_cpus)
        wait_ready(direct_url, args.api_key, args.model, mock, 10)
        log(f"mock upstream up (pid {mock.pid})")

        t0 = time.time()
        gw = start_process(["bash", "-c", cmd], os.path.join(out, "gateway.log"), env=env, cpus=gw_cpus)
        sampler = Sampler(gw.pid)
        sampler.start()
        log(f"gateway starting (pgid {gw.pid}): {cmd}")
        wait_ready(gw_url, args.api_key, args.model, gw, args.startup_timeout)
        meta["ready_s"] = time.time() - t0
        time.sleep(1.0)
        meta["idle_rss_mb"] = group_usage(gw.pid)[0] / 2**20
        meta["gw_procs"] = group_usage(gw.pid)[2]
        meta["libraries"] = loaded_libraries(gw.pid, ["uvloop", "orjson", "_http_parser", "_websocket"])
        log(f"gateway ready after {meta['ready_s']:.1f}s, idle RSS {meta['idle_rss_mb']:.1f} MB, "
            f"{meta['gw_procs']} process(es)")

        res["smoke"] = smoke(gw_url, args.api_key, args.model, mock_base)
        log(f"smoke: {res['smoke']}")

        run_snap0 = cpu_snapshot(gw.pid, mock.pid)
        sampler.set_phase("warmup")
        for target in (direct_url, gw_url):
            try:
                run_wrk(target, 4, args.warmup, load_cpus, wrk_env, wrk_threads)
            except Exception as e:  # noqa: BLE001
                log(f"warm-up against {target} failed: {e}")
        run_stream(gw_url, 4, 8, load_cpus, args)

        levels = [int(x) for x in args.levels.split(",") if x]
        slevels = [int(x) for x in args.stream_levels.split(",") if x]
        for rnd in range(1, args.rounds + 1):
            for c in levels:
                log(f"round {rnd}: non-streaming c={c} direct ({args.duration}s)")
                snap0 = cpu_snapshot(gw.pid, mock.pid)
                d = run_wrk(direct_url, c, args.duration, load_cpus, wrk_env, wrk_threads)
                log(f"  direct: {d['rps']:.0f} rps p50 {d['lat_p50_us']/1000:.3f} ms p99 {d['lat_p99_us']/1000:.3f} ms")
                row = {"round": rnd, "c": c, "direct": d, "gateway": None}
                phase = f"r{rnd}-ns-c{c}"
                sampler.set_phase(phase)
                s0 = mock_stats(mock_base)
                cpu0 = group_usage(gw.pid)[1]
                t_start = time.time()
                try:
                    g = run_wrk(gw_url, c, args.duration, load_cpus, wrk_env, wrk_threads)
                    row["gateway"] = g
                    wall = time.time() - t_start
                    row["gw_cpu_pct"] = 100.0 * (group_usage(gw.pid)[1] - cpu0) / wall
                    s1 = mock_stats(mock_base)
                    if s0 and s1 and g["requests"]:
                        row["upstream_per_req"] = (s1["chat"] - s0["chat"]) / g["requests"]
                    log(f"  gateway: {g['rps']:.0f} rps p50 {g['lat_p50_us']/1000:.3f} ms "
                        f"p99 {g['lat_p99_us']/1000:.3f} ms errors {g['errors']} cpu {row['gw_cpu_pct']:.0f}%")
                except Exception as e:  # noqa: BLE001
                    row["error"] = str(e)[:300]
                    log(f"  gateway run failed: {e}")
                row["peak_rss_mb"] = sampler.peaks.get(phase, 0) / 2**20
                row.update(other_cpu(snap0, cpu_snapshot(gw.pid, mock.pid)))
                res["nonstream"].append(row)
                if gw.poll() is not None:
                    raise RuntimeError(f"gateway exited (code {gw.returncode}) during c={c}")
            for c in slevels:
                n = max(args.stream_min, c * args.stream_per_conn)
                log(f"round {rnd}: streaming c={c} n={n} direct")
                snap0 = cpu_snapshot(gw.pid, mock.pid)
                d = run_stream(direct_url, c, n, load_cpus, args)
                row = {"round": rnd, "c": c, "direct": d, "gateway": None}
                phase = f"r{rnd}-st-c{c}"
                sampler.set_phase(phase)
                cpu0 = group_usage(gw.pid)[1]
                t_start = time.time()
                try:
                    g = run_stream(gw_url, c, n, load_cpus, args)
                    row["gateway"] = g
                    row["gw_cpu_pct"] = 100.0 * (group_usage(gw.pid)[1] - cpu0) / (time.time() - t_start)
                    gt = g.get("ttft_ms") or {}
                    log(f"  direct ttft p50 {d['ttft_ms']['p50']} ms; gateway ttft p50 {gt.get('p50')} ms "
                        f"p99 {gt.get('p99')} ms, sse {g['sse_responses']}/{g['ok']}, errors {g['errors']}")
                except Exception as e:  # noqa: BLE001
                    row["error"] = str(e)[:300]
                    log(f"  gateway stream run failed: {e}")
                row["peak_rss_mb"] = sampler.peaks.get(phase, 0) / 2**20
                row.update(other_cpu(snap0, cpu_snapshot(gw.pid, mock.pid)))
                res["stream"].append(row)
                if gw.poll() is not None:
                    raise RuntimeError(f"gateway exited (code {gw.returncode}) during streaming c={c}")
        if args.rss_streams > 0:
            res["rss_streams"] = rss_phase(gw, mock, mock_base, gw_url, load_cpus, args, sampler)
    except Exception as e:  # noqa: BLE001
        res["fatal"] = str(e)
        log(f"FATAL: {e}")
    finally:
        try:
            if gw is not None and mock is not None and "run_snap0" in locals():
                meta.update({"run_" + k: v for k, v in other_cpu(run_snap0, cpu_snapshot(gw.pid, mock.pid)).items()})
        except Exception:  # noqa: BLE001
            pass
        if sampler:
            sampler.stop()
            meta["peak_rss_mb"] = sampler.overall_peak / 2**20
        stop_process(gw, "gateway")
        stop_process(mock, "mock upstream")
        meta["loadavg_end"] = loadavg()

    report = build_report(res)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(report + "\n")
    print()
    print(report)
    log(f"wrote {os.path.join(out, 'results.json')} and summary.md; gateway log: {os.path.join(out, 'gateway.log')}")
    return 1 if res.get("fatal") else 0


if __name__ == "__main__":
    sys.exit(main())
