"""Retries, Retry-After, circuit breakers (open, half-open probe, closed again; 401 disables),
the request time budget, concurrency caps and keep-alive frames, through the real gateway
process and its `/status`."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai

from tests import fake_upstream as fu

from . import faults as f
from . import ledger
from .client import ANSWERED, ERRORED, Outcome
from .conftest import gateway_status, many, provider_status

ONLY_ERRORS = frozenset({ERRORED})
ONLY_ANSWERS = frozenset({ANSWERED})


def model_breaker(gw, provider: str, model: str) -> dict:
    return provider_status(gw, provider).get("model_breakers", {}).get(model, {"state": "closed"})


async def test_transient_failure_is_retried_at_the_same_provider(fault_gateway, upstream):
    first = f.Counter()
    upstream.on("retry-once-solo-a", "retry-once-solo", f.recovering(first, 1, f.echo()))
    [o] = await many(fault_gateway, "retry-once-solo", 1)
    ledger.record("retry-once", [o], faults=first.faults, allowed=ONLY_ANSWERS)
    assert o.kind == ANSWERED
    assert o.headers["x-llms-provider"] == "retry-once-solo-a"
    assert o.headers["x-llms-tried"] == "retry-once-solo-a,retry-once-solo-a"  # the retry, no failover


async def test_retry_after_is_honoured_when_it_fits(fault_gateway, upstream):
    calls = f.Counter()

    async def limited_once(call):
        calls.calls += 1
        if calls.calls == 1:
            calls.faults += 1
            return await f.status(429, retry_after="1")(call)
        return await f.echo()(call)

    upstream.on("retry-after-once-solo-a", "retry-after-once-solo", limited_once)
    start = time.monotonic()
    [o] = await many(fault_gateway, "retry-after-once-solo", 1, stream=False)
    waited = time.monotonic() - start
    ledger.record("retry-after-once", [o], faults=calls.faults, allowed=ONLY_ANSWERS)
    assert o.kind == ANSWERED and o.headers["x-llms-provider"] == "retry-after-once-solo-a"
    assert waited >= 1.0  # it waited as told instead of failing over


async def test_429_with_retry_after_holds_the_provider(fault_gateway, upstream):
    counter = f.Counter()
    upstream.on("429-retry-after-a", "429-retry-after", f.counted(counter, f.status(429, retry_after="1")))
    upstream.on("429-retry-after-b", "429-retry-after", f.echo())
    outcomes = await many(fault_gateway, "429-retry-after", 10, sequential=True)
    row = ledger.record("429-retry-after", outcomes, faults=counter.faults, allowed=ONLY_ANSWERS)
    assert row.lost == 0, row.lost_details
    assert counter.calls < 10  # held: later requests skip it instead of hitting the limit again
    assert model_breaker(fault_gateway, "429-retry-after-a", "429-retry-after")["state"] in ("open", "half-open")


async def test_every_provider_rate_limited_is_a_429_with_retry_after(fault_gateway, upstream):
    counter = f.Counter()
    for side in "ab":
        upstream.on(f"429-everywhere-{side}", "429-everywhere", f.counted(counter, f.status(429, retry_after="1")))
    outcomes = await many(fault_gateway, "429-everywhere", 4, sequential=True, stream=False)
    row = ledger.record("429-everywhere", outcomes, faults=counter.faults, allowed=ONLY_ERRORS)
    assert row.lost == 0, row.lost_details
    for o in outcomes:
        assert o.status == 429 and o.code == "rate_limit_exceeded", o
        assert int(o.headers["retry-after"]) >= 1


async def test_5xx_storm_opens_the_breaker_and_skips_the_provider(fault_gateway, upstream):
    counter = f.Counter()
    codes = iter([500, 502, 503, 529] * 10)

    async def storm(call):
        return await f.status(next(codes))(call)

    upstream.on("5xx-storm-a", "5xx-storm", f.counted(counter, storm))
    upstream.on("5xx-storm-b", "5xx-storm", f.echo())
    outcomes = await many(fault_gateway, "5xx-storm", 10, sequential=True)
    row = ledger.record("5xx-storm", outcomes, faults=counter.faults, allowed=ONLY_ANSWERS)
    assert row.lost == 0, row.lost_details
    assert counter.calls == 3  # 3 requests failed over (no retry while b answers): open; then skipped
    breaker = model_breaker(fault_gateway, "5xx-storm-a", "5xx-storm")
    assert breaker["state"] == "open" and "HTTP 5" in breaker["last_failure"]
    assert [o.headers.get("x-llms-tried") for o in outcomes[:3]] == ["5xx-storm-a,5xx-storm-b"] * 3
    assert all(o.headers.get("x-llms-tried", "5xx-storm-b") == "5xx-storm-b" for o in outcomes[3:])
    assert "breaker 5xx-storm-a/5xx-storm: open" in fault_gateway.output()


async def test_all_down_fails_fast_with_503_once_breakers_are_open(fault_gateway, upstream):
    counter = f.Counter()
    upstream.on("all-down-a", "all-down", f.counted(counter, fu.reset()))
    upstream.on("all-down-b", "all-down", f.counted(counter, f.status(503)))
    outcomes = await many(fault_gateway, "all-down", 8, sequential=True)
    row = ledger.record("all-down", outcomes, faults=counter.faults, allowed=ONLY_ERRORS)
    assert row.lost == 0, row.lost_details
    assert outcomes[0].status == 502 and outcomes[0].code == "all_providers_failed"
    assert "all-down-a: connection closed" in outcomes[0].error["message"]
    fast = [o for o in outcomes if o.status == 503]
    assert fast, [o.status for o in outcomes]
    for o in fast:
        assert o.code == "providers_unavailable" and "circuit open" in o.error["message"]
        assert int(o.headers["retry-after"]) >= 1


async def test_provider_that_recovers_closes_its_breaker(fault_gateway, upstream):
    counter = f.Counter()
    upstream.on("recovering-a", "recovering", f.recovering(counter, 3, f.echo()))
    upstream.on("recovering-b", "recovering", f.echo())
    outcomes = await many(fault_gateway, "recovering", 3, sequential=True)  # 3 failures: open
    assert model_breaker(fault_gateway, "recovering-a", "recovering")["state"] == "open"
    time.sleep(1.2)  # the cooldown: the next request is the probe, and the provider is back
    outcomes += await many(fault_gateway, "recovering", 3, sequential=True)
    row = ledger.record("recovering", outcomes, faults=counter.faults, allowed=ONLY_ANSWERS)
    assert row.lost == 0, row.lost_details
    assert model_breaker(fault_gateway, "recovering-a", "recovering")["state"] == "closed"
    assert [o.headers["x-llms-provider"] for o in outcomes] == ["recovering-b"] * 3 + ["recovering-a"] * 3
    log = fault_gateway.output()
    assert "breaker recovering-a/recovering: half-open" in log
    assert "breaker recovering-a/recovering: closed again" in log


async def test_bad_key_disables_the_provider_until_the_config_changes(fault_gateway, upstream):
    counter = f.Counter()
    upstream.on("bad-key-a", "bad-key", f.counted(counter, f.status(401, message="invalid api key")))
    upstream.on("bad-key-b", "bad-key", f.echo())
    outcomes = await many(fault_gateway, "bad-key", 5, sequential=True)
    row = ledger.record("bad-key", outcomes, faults=counter.faults, allowed=ONLY_ANSWERS)
    assert row.lost == 0, row.lost_details
    assert counter.calls == 1  # never asked again, and skips are not attempts
    assert all(o.headers.get("x-llms-tried") is None for o in outcomes[1:])
    breaker = provider_status(fault_gateway, "bad-key-a")["breaker"]
    assert breaker["state"] == "disabled" and "401" in breaker["last_failure"]


async def test_budget_runs_out_with_504_naming_what_was_tried(fault_gateway, upstream):
    counter = f.Counter()
    for side in "ab":
        upstream.on(f"budget-{side}", "budget", f.counted(counter, fu.hang(30)))
    outcomes = []
    for stream in (False, True):
        start = time.monotonic()
        [o] = await many(fault_gateway, "budget", 1, stream=stream, headers={"x-llms-timeout": "0.8"})
        assert time.monotonic() - start < 10  # the upstream hangs for 30 s: the budget ended it
        outcomes.append(o)
    row = ledger.record("budget", outcomes, faults=counter.faults, allowed=ONLY_ERRORS)
    assert row.lost == 0, row.lost_details
    for o in outcomes:
        assert o.status == 504 and o.code == "request_timeout", o
        assert "time budget of 0.8s" in o.error["message"] and "budget-a: timeout" in o.error["message"]
    bad = httpx.post(
        fault_gateway.url + "/v1/chat/completions",
        json={"model": "budget", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-llms-timeout": "soon"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-llms-timeout"


async def test_concurrency_cap_overflows_to_the_next_provider(fault_gateway, upstream):
    upstream.on("capped-a", "capped", f.echo(delay=0.15))
    upstream.on("capped-b", "capped", f.echo(delay=0.15))
    outcomes = await many(fault_gateway, "capped", 6)
    row = ledger.record("capped (cap 2)", outcomes, faults=0, allowed=ONLY_ANSWERS)
    assert row.lost == 0, row.lost_details
    served = [o.headers["x-llms-provider"] for o in outcomes]
    assert served.count("capped-a") == 2 and served.count("capped-b") == 4


async def test_saturated_single_provider_answers_429_at_once(fault_gateway, upstream):
    upstream.on("capped-solo-a", "capped-solo", f.echo(delay=0.2))
    outcomes = await many(fault_gateway, "capped-solo", 4)
    row = ledger.record("capped-solo (cap 1)", outcomes, faults=0)
    assert row.lost == 0, row.lost_details
    assert [o.kind for o in outcomes].count(ANSWERED) == 1
    for o in outcomes:
        if o.kind == ERRORED:
            assert o.status == 429 and o.headers["retry-after"] == "1" and "busy" in o.error["message"]
    assert provider_status(fault_gateway, "capped-solo-a")["inflight"] == 0


async def test_keepalive_frames_while_waiting_for_the_first_token(fault_gateway, upstream):
    upstream.on("keepalive-solo-a", "keepalive-solo", f.echo(first_delay=2.6))
    [o] = await many(fault_gateway, "keepalive-solo", 1)
    ledger.record("keepalive (2.6 s to first token)", [o], faults=1, allowed=ONLY_ANSWERS)
    assert o.kind == ANSWERED and o.comments >= 1, o
    # the SDK ignores the comments and sees the whole answer
    client = openai.OpenAI(base_url=fault_gateway.url + "/v1", api_key="x", max_retries=0)
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="keepalive-solo", messages=[{"role": "user", "content": "sdk"}], stream=True
        )
        if c.choices
    )
    assert text == f.expected("sdk")


def test_status_lists_breakers_and_inflight(fault_gateway):
    status = gateway_status(fault_gateway)
    entry = next(p for p in status["providers"] if p["name"] == "slow-drip-a")
    assert entry["inflight"] == 0 and entry["breaker"]["state"] in ("closed", "open", "half-open")


async def test_slow_reader_is_cut_off_and_the_upstream_released(fault_gateway, upstream):
    """A client that sends a streamed request and then reads nothing: the gateway buffers at
    most a socket's worth, aborts it after `write_timeout` (3 s here) and closes the upstream."""
    piece = "z" * 65536

    async def firehose(call):
        resp = await f._start_sse(call)
        for _ in range(1000):  # 64 MB if nobody pushed back
            await resp.write(fu.sse(fu.chunk(call.model, {"content": piece})))
        await resp.write(fu.sse(fu.chunk(call.model, {}, "stop")) + b"data: [DONE]\n\n")
        return resp

    upstream.on("slow-reader-solo-a", "slow-reader-solo", firehose)
    rss_before = gateway_status(fault_gateway)["runtime"]["rss_mb"]
    body = b'{"model": "slow-reader-solo", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    reader, writer = await asyncio.open_connection("127.0.0.1", fault_gateway.port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.sleep(1.0)  # the client reads nothing
    peak = gateway_status(fault_gateway)["runtime"]["rss_mb"]
    call = upstream.received("slow-reader-solo-a")[0]
    assert await asyncio.to_thread(upstream.wait_for, lambda: call.disconnected, 15)
    assert not call.finished  # the upstream never got to send everything: backpressure
    taken = 0
    try:
        while chunk := await reader.read(1 << 20):
            taken += len(chunk)
    except ConnectionError:
        pass  # aborted: a reset is what a client that stopped reading gets
    writer.close()
    assert taken < 32 << 20  # at most what the socket buffers held, not the 64 MB
    assert peak < rss_before + 32, (rss_before, peak)
    assert provider_status(fault_gateway, "slow-reader-solo-a")["inflight"] == 0
    assert "client too slow, cut off" in fault_gateway.output()
    cut = Outcome(ERRORED, 200, f"aborted after write_timeout, {taken} bytes delivered")
    ledger.record("slow reader (reads nothing)", [cut], faults=1)
