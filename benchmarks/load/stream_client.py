#!/usr/bin/env python3
"""Bounded streaming load client for OpenAI-compatible /chat/completions endpoints.

Sends `--requests` streamed chat completions ("stream": true) over `--concurrency`
keep-alive connections and measures, per request, relative to the moment the request
was sent:

  ttfb   first line of the response body
  ttft   first SSE event whose choices[0].delta.content is non-empty
  gaps   time between successive content events (buffering shows up as ~0 gaps
         followed by a large TTFT)
  total  end of the stream ([DONE] or end of body)

A response that is not text/event-stream (e.g. a gateway that answers a streamed
request with one chat.completion JSON) is recorded with sse=false and ttft=total.

Prints a human summary and one machine-readable line: "STREAMJSON {...}".
The run is bounded by --requests and by --max-seconds.
"""

import argparse
import asyncio
import json
import math
import sys
import time

import aiohttp


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return s[k]


def summarize(values, scale=1000.0):
    """p50/p90/p99/max in milliseconds."""
    if not values:
        return None
    return {
        "n": len(values),
        "p50": round(pct(values, 50) * scale, 3),
        "p90": round(pct(values, 90) * scale, 3),
        "p99": round(pct(values, 99) * scale, 3),
        "max": round(max(values) * scale, 3),
        "mean": round(sum(values) / len(values) * scale, 3),
    }


def max_overlap(results):
    """Most streams that were open at the same moment (request sent, answer not yet complete)."""
    events = []
    for r in results:
        if r.get("t0") is not None and r.get("total") is not None:
            events.append((r["t0"], 1))
            events.append((r["t0"] + r["total"], -1))
    events.sort(key=lambda e: (e[0], e[1]))
    now = best = 0
    for _, d in events:
        now += d
        best = max(best, now)
    return best


def default_body(model):
    return {
        "model": model,
        "stream": True,
        "max_tokens": 64,
        "temperature": 0.7,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Write one sentence about a quick brown fox that jumps over a lazy dog."},
        ],
    }


async def one_request(session, url, body, headers, timeout_s):
    rec = {"ok": False, "sse": None, "status": None, "ttfb": None, "ttft": None,
           "total": None, "content_events": 0, "gaps": [], "done": False, "error": None}
    t0 = time.perf_counter()
    rec["t0"] = t0
    try:
        async with session.post(url, data=body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            rec["status"] = resp.status
            ctype = resp.headers.get("Content-Type", "")
            rec["sse"] = "text/event-stream" in ctype
            if resp.status != 200:
                text = await resp.text()
                rec["error"] = f"HTTP {resp.status}: {text[:200]}"
                rec["total"] = time.perf_counter() - t0
                return rec
            if not rec["sse"]:
                raw = await resp.read()
                now = time.perf_counter() - t0
                rec["ttfb"] = rec["ttft"] = rec["total"] = now
                try:
                    obj = json.loads(raw)
                    content = obj["choices"][0]["message"]["content"]
                    rec["ok"] = bool(content)
                    rec["content_events"] = 0
                    if not rec["ok"]:
                        rec["error"] = "non-SSE response without content"
                except Exception as e:  # noqa: BLE001
                    rec["error"] = f"non-SSE response, not a chat.completion: {e}"
                return rec
            last = None
            async for line in resp.content:
                now = time.perf_counter() - t0
                if rec["ttfb"] is None:
                    rec["ttfb"] = now
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    rec["done"] = True
                    break
                try:
                    obj = json.loads(payload)
                except ValueError:
                    continue
                choices = obj.get("choices") or []
                if choices and (choices[0].get("delta") or {}).get("content"):
                    rec["content_events"] += 1
                    if rec["ttft"] is None:
                        rec["ttft"] = now
                    if last is not None:
                        rec["gaps"].append(now - last)
                    last = now
            rec["total"] = time.perf_counter() - t0
            rec["ok"] = rec["ttft"] is not None
            if not rec["ok"]:
                rec["error"] = "stream had no content events"
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
        rec["total"] = time.perf_counter() - t0
    return rec


async def run(args):
    url = args.url.rstrip("/")
    if not url.endswith("/chat/completions"):
        url = url + args.chat_path
    body_obj = json.loads(args.body) if args.body else default_body(args.model)
    body = json.dumps(body_obj).encode()
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
               "Authorization": f"Bearer {args.api_key}"}
    for h in args.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    connector = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=args.concurrency,
                                     keepalive_timeout=60)
    if args.concurrency > 200:  # many connections at once: raise the soft fd limit as far as allowed
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, max(soft, 4 * args.concurrency + 256))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    results = []
    issued = 0
    deadline = time.perf_counter() + args.max_seconds
    t_start = time.perf_counter()

    async with aiohttp.ClientSession(connector=connector, auto_decompress=True) as session:
        async def worker():
            nonlocal issued
            while issued < args.requests and time.perf_counter() < deadline:
                issued += 1
                remaining = max(1.0, deadline - time.perf_counter())
                results.append(await one_request(session, url, body, headers,
                                                 min(args.timeout, remaining)))
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    wall = time.perf_counter() - t_start

    ok = [r for r in results if r["ok"]]
    errors = [r for r in results if not r["ok"]]
    gaps = [g for r in ok for g in r["gaps"]]
    summary = {
        "url": url,
        "concurrency": args.concurrency,
        "requested": args.requests,
        "completed": len(results),
        "ok": len(ok),
        "errors": len(errors),
        "error_samples": sorted({r["error"] for r in errors if r["error"]})[:3],
        "wall_s": round(wall, 3),
        "streams_per_s": round(len(ok) / wall, 2) if wall > 0 else None,
        "sse_responses": sum(1 for r in ok if r["sse"]),
        "non_sse_responses": sum(1 for r in ok if r["sse"] is False),
        "done_marker": sum(1 for r in ok if r["done"]),
        "content_events": summarize([r["content_events"] for r in ok], scale=1.0),
        "ttfb_ms": summarize([r["ttfb"] for r in ok if r["ttfb"] is not None]),
        "ttft_ms": summarize([r["ttft"] for r in ok]),
        "gap_ms": summarize(gaps),
        "gaps_under_1ms_frac": round(sum(1 for g in gaps if g < 0.001) / len(gaps), 4) if gaps else None,
        "total_ms": summarize([r["total"] for r in ok]),
        "max_concurrent": max_overlap(results),
    }
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="base URL (…/v1/chat/completions is appended unless present)")
    ap.add_argument("--chat-path", default="/v1/chat/completions")
    ap.add_argument("--model", default="mock-model")
    ap.add_argument("--api-key", default="sk-bench")
    ap.add_argument("--body", default=None, help="full JSON request body (overrides the default)")
    ap.add_argument("-c", "--concurrency", type=int, default=1)
    ap.add_argument("-n", "--requests", type=int, default=30)
    ap.add_argument("--max-seconds", type=float, default=120.0, help="hard cap on the whole run")
    ap.add_argument("--timeout", type=float, default=60.0, help="per-request timeout (s)")
    ap.add_argument("--header", action="append", default=[],
                    help="extra request header 'Name: value' (repeatable), e.g. the mock's x-mock-chunk-delay-ms")
    ap.add_argument("--json-only", action="store_true")
    args = ap.parse_args()
    if args.concurrency < 1 or args.requests < 1:
        ap.error("concurrency and requests must be >= 1")

    summary = asyncio.run(run(args))
    if not args.json_only:
        def fmt(k):
            s = summary[k]
            return "-" if not s else f"p50={s['p50']} p90={s['p90']} p99={s['p99']} max={s['max']}"
        print(f"streams: {summary['ok']}/{summary['completed']} ok, {summary['errors']} errors, "
              f"c={summary['concurrency']}, {summary['streams_per_s']} streams/s, wall {summary['wall_s']} s, "
              f"sse={summary['sse_responses']} non-sse={summary['non_sse_responses']}")
        print(f"  ttft ms  {fmt('ttft_ms')}")
        print(f"  gap ms   {fmt('gap_ms')}  (<1ms: {summary['gaps_under_1ms_frac']})")
        print(f"  total ms {fmt('total_ms')}")
        if summary["error_samples"]:
            print(f"  errors: {summary['error_samples']}")
    print("STREAMJSON " + json.dumps(summary), flush=True)
    return 0 if summary["ok"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
