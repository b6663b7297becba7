"""Translation overhead: what the gateway adds to a request in a native dialect (Anthropic,
Gemini, Ollama) compared with an OpenAI pass-through, on loopback, run by hand:

    python3 benchmarks/dialects.py                 # ~1 min: 8 rounds × 4 dialects × 400 requests
    python3 benchmarks/dialects.py --requests 300 --rounds 1     # quick look

A mock upstream (a separate process) answers each dialect's endpoint with its recorded answer
from tests/transcripts/<dialect>/text.json (and .sse/.ndjson for streams). For each dialect the
client first calls the mock directly with that dialect's own request body, then the same
question through the gateway in OpenAI's shape; the gateway's overhead is the difference of
the medians. The goal from issue 3: a translated request's overhead within 1.5× of the
pass-through (openai) overhead. The inbound APIs of issue 15 are measured the same way: `messages`
is the Anthropic Messages API in and an OpenAI-compatible upstream out (`POST /v1/messages` to the
gateway, against the direct OpenAI call), `responses` the Responses API in and chat out; their
goal is the same 1.5× of the pass-through. Results: a table on stdout and a JSON file under
benchmarks/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = ROOT / "tests" / "transcripts"
DIALECTS = ("openai", "anthropic", "google", "ollama")
QUESTION = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
TYPES = {"openai": "OpenAiProvider", "anthropic": "AnthropicProvider", "google": "GoogleProvider"}
TYPES["ollama"] = "OllamaProvider"
INBOUND = ("messages", "responses")  # other APIs in, the openai dialect out
TARGETS = DIALECTS + INBOUND


# -- the mock upstream (runs in its own process: `--mock PORT`) ---------------------------------


def mock_app() -> web.Application:
    bodies = {d: (TRANSCRIPTS / d / "text.json").read_bytes() for d in DIALECTS}
    streams = {d: (TRANSCRIPTS / d / ("text.ndjson" if d == "ollama" else "text.sse")).read_bytes() for d in DIALECTS}

    async def handle(request: web.Request) -> web.StreamResponse:
        dialect = request.match_info["dialect"]
        body = await request.json()
        streamed = body.get("stream", dialect == "ollama") if dialect != "google" else "stream" in request.path
        if not streamed:
            return web.Response(body=bodies[dialect], content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(streams[dialect])
        return resp

    app = web.Application()
    app.router.add_post("/{dialect}/{tail:.*}", handle)
    return app


# -- requests ------------------------------------------------------------------------------


def direct_request(dialect: str, base: str, stream: bool) -> tuple[str, dict]:
    """The dialect's own request for QUESTION, as a client of the vendor would send it."""
    if dialect == "anthropic":
        body = {"model": "m", "system": "Be brief.", "max_tokens": 4096, "stream": stream}
        body["messages"] = [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]
        return f"{base}/anthropic/v1/messages", body
    if dialect == "google":
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]}
        body["systemInstruction"] = {"parts": [{"text": "Be brief."}]}
        return f"{base}/google/v1beta/models/m:{method}", body
    if dialect == "ollama":
        return f"{base}/ollama/api/chat", {"model": "m", "messages": QUESTION, "stream": stream}
    return f"{base}/openai/v1/chat/completions", {"model": "m", "messages": QUESTION, "stream": stream}


def gateway_request(target: str, gateway: str, stream: bool) -> tuple[str, dict]:
    """What a client sends the gateway for QUESTION: chat completions, or an inbound API."""
    if target == "messages":
        body = {"model": "openai-m", "system": "Be brief.", "max_tokens": 4096, "stream": stream}
        body["messages"] = [{"role": "user", "content": "Say hello."}]
        return f"{gateway}/v1/messages", body
    if target == "responses":
        body = {"model": "openai-m", "instructions": "Be brief.", "input": "Say hello.", "stream": stream}
        return f"{gateway}/v1/responses", body
    return f"{gateway}/v1/chat/completions", via_gateway(target, stream)


def upstream_of(target: str) -> str:
    return "openai" if target in INBOUND else target


async def timed(session: aiohttp.ClientSession, url: str, body: dict, n: int) -> list[float]:
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    out = []
    for _ in range(n):
        start = time.perf_counter()
        async with session.post(url, data=payload, headers=headers) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"{url}: HTTP {r.status}")
        out.append(time.perf_counter() - start)
    return out


# -- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def start(cmd: list[str], port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    wait_port(port, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def gateway_config(mock: str) -> dict:
    providers = {}
    for d in DIALECTS:
        providers[d] = {"type": TYPES[d], "base_url": f"{mock}/{d}", "api_key": "k", "models": {f"{d}-m": "m"}}
    return {"providers": providers}


# -- the run -------------------------------------------------------------------------------


async def measure(mock: str, gateway: str, n: int, rounds: int, stream: bool) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, list[float]]] = {t: {"direct": [], "gateway": []} for t in TARGETS}
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for t in TARGETS:  # warm-up: connections, imports, JIT-less caches
            await timed(session, *direct_request(upstream_of(t), mock, stream), 50)
            await timed(session, *gateway_request(t, gateway, stream), 50)
        k = len(TARGETS)
        for r in range(rounds):
            for t in TARGETS[r % k :] + TARGETS[: r % k]:  # rotate, so no target always runs first
                samples[t]["direct"].append(
                    statistics.median(await timed(session, *direct_request(upstream_of(t), mock, stream), n))
                )
                got = await timed(session, *gateway_request(t, gateway, stream), n)
                samples[t]["gateway"].append(statistics.median(got))
    return {d: {k: statistics.median(v) * 1e6 for k, v in s.items()} for d, s in samples.items()}


def via_gateway(dialect: str, stream: bool) -> dict:
    return {"model": f"{dialect}-m", "messages": QUESTION, "stream": stream}


def translation_cost(n: int = 20000) -> dict[str, float]:
    """µs of pure mapping per plain request (request out + answer in), no I/O: what a dialect
    adds on the CPU over the pass-through's serialise + parse."""
    import orjson

    from llms.providers import anthropic, google, ollama
    from llms.server.messages.request import to_chat as messages_to_chat
    from llms.server.messages.response import to_message
    from llms.server.responses.request import to_chat as responses_to_chat
    from llms.server.responses.response import to_response

    req = {"model": "m", "messages": QUESTION, "temperature": 0.2}
    answers = {d: (TRANSCRIPTS / d / "text.json").read_bytes() for d in DIALECTS}
    _, messages_body = gateway_request("messages", "", False)
    _, responses_body = gateway_request("responses", "", False)
    steps = {
        "openai": lambda: (orjson.dumps({**req, "model": "m"}), orjson.loads(answers["openai"])),
        "anthropic": lambda: (
            orjson.dumps(anthropic.to_anthropic(req, stream=False)),
            anthropic.from_anthropic(orjson.loads(answers["anthropic"]), "m"),
        ),
        "google": lambda: (
            orjson.dumps(google.to_gemini(req, "g")),
            google.from_gemini(orjson.loads(answers["google"]), "m"),
        ),
        "ollama": lambda: (
            orjson.dumps(ollama.to_ollama(req, "o", stream=False, options={})),
            ollama.from_ollama(orjson.loads(answers["ollama"]), "m"),
        ),
        # an inbound API: its body parsed and mapped to chat, sent on; the chat answer mapped back
        "messages": lambda: (
            orjson.dumps(messages_to_chat(orjson.loads(orjson.dumps(messages_body)))),
            orjson.dumps(to_message(orjson.loads(answers["openai"]), "m")),
        ),
        "responses": lambda: (
            orjson.dumps(responses_to_chat(orjson.loads(orjson.dumps(responses_body)))),
            orjson.dumps(to_response(orjson.loads(answers["openai"]), responses_body, "m")),
        ),
    }
    out = {}
    for d, step in steps.items():
        start = time.perf_counter()
        for _ in range(n):
            step()
        out[d] = (time.perf_counter() - start) / n * 1e6
    return out


def report(results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| dialect or API in | mode | direct p50 µs | via gateway p50 µs | overhead µs | × openai overhead |"]
    lines.append("| --- | --- | ---: | ---: | ---: | ---: |")
    for mode, per in results.items():
        base = per["openai"]["gateway"] - per["openai"]["direct"]
        for d, r in per.items():
            overhead = r["gateway"] - r["direct"]
            lines.append(
                f"| {d} | {mode} | {r['direct']:.0f} | {r['gateway']:.0f} | {overhead:.0f} | {overhead / base:.2f} |"
            )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=400, help="requests per dialect, target and round")
    p.add_argument("--rounds", type=int, default=8, help="rounds; the median round counts")
    p.add_argument("--mock", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mock:
        web.run_app(mock_app(), host="127.0.0.1", port=args.mock, print=None, access_log=None)
        return 0
    work = Path(tempfile.mkdtemp(prefix="llms-dialects-bench-"))
    mock_port, gw_port = free_port(), free_port()
    mock = start([sys.executable, __file__, "--mock", str(mock_port)], mock_port, work / "mock.log")
    gw = None
    try:
        config = work / "llms.json"
        config.write_text(json.dumps(gateway_config(f"http://127.0.0.1:{mock_port}")))
        cmd = [sys.executable, "-m", "llms", "--serve", str(gw_port), "--config", str(config)]
        gw = start(cmd, gw_port, work / "gateway.log")
        urls = (f"http://127.0.0.1:{mock_port}", f"http://127.0.0.1:{gw_port}")
        results = {
            "plain": asyncio.run(measure(*urls, args.requests, args.rounds, stream=False)),
            "streamed": asyncio.run(measure(*urls, args.requests, args.rounds, stream=True)),
        }
    finally:
        if gw is not None:
            stop(gw)
        stop(mock)
    print(report(results))
    sys.path.insert(0, str(ROOT / "src"))
    cpu = translation_cost()
    print("\nCPU per plain request, mapping only (µs): " + ", ".join(f"{d} {v:.1f}" for d, v in cpu.items()))
    results["mapping_us"] = cpu  # type: ignore[assignment]
    out = ROOT / "benchmarks" / "results" / f"dialects-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"requests": args.requests, "rounds": args.rounds, "results": results}, indent=2))
    print(f"\nwritten: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
