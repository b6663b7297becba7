"""Every way a request can end writes exactly one ledger record with the right fields, through
the real gateway and the fake upstream; `x-request-id` on every answer is the record's id."""

from __future__ import annotations

import time

import httpx
import pytest

from .. import fake_upstream as fu
from ..test_failover import MSG, post, sse_events

PRICE_IN, PRICE_OUT = 0.000001, 0.000002  # primary's default_pricing in two_provider_config


def stream(gateway, body: dict, **kw) -> httpx.Response:
    return post(gateway, {**body, "stream": True}, **kw)


def test_served(ledger_gateway, upstream, ledger):
    r = post(ledger_gateway, {"model": "chat", "messages": MSG})
    assert r.status_code == 200
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.api, rec.model, rec.provider, rec.provider_model) == ("chat.completions", "chat", "primary", "p-chat")
    assert (rec.status, rec.outcome, rec.stream, rec.key) == (200, "ok", False, None)
    assert [(a["provider"], a["status"], a["error"]) for a in rec.attempts] == [("primary", 200, None)]
    usage = r.json()["usage"]
    assert (rec.prompt_tokens, rec.completion_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert rec.cost == pytest.approx(usage["prompt_tokens"] * PRICE_IN + usage["completion_tokens"] * PRICE_OUT)
    assert rec.ttft_ms is None and 0 < rec.duration_ms < 10_000
    assert abs(rec.created - time.time()) < 30 and rec.content is None


def test_failed_over(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.error(503, "overloaded"))
    r = post(ledger_gateway, {"model": "chat", "messages": MSG})
    assert r.status_code == 200
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.provider, rec.provider_model, rec.outcome, rec.status) == ("secondary", "s-chat", "ok", 200)
    assert [(a["provider"], a["status"]) for a in rec.attempts] == [("primary", 503), ("secondary", 200)]
    assert rec.attempts[0]["error"] and rec.attempts[1]["error"] is None
    assert all(a["seconds"] >= 0 for a in rec.attempts)
    assert rec.cost is None  # secondary has no pricing: unknown, not zero


@pytest.mark.parametrize(
    "body, status",
    [({"model": "chat"}, 400), ({"model": "no-such-model", "messages": MSG}, 404)],
    ids=["bad-body", "unknown-model"],
)
def test_client_error(ledger_gateway, upstream, ledger, body, status):
    r = post(ledger_gateway, body)
    assert r.status_code == status
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.status, rec.outcome, rec.provider, rec.attempts) == (status, "client_error", None, [])
    assert rec.prompt_tokens is None and rec.cost is None


def test_upstream_client_error(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.error(400, "context too long"))
    r = post(ledger_gateway, {"model": "chat", "messages": MSG})
    assert r.status_code == 400
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.outcome, rec.status, rec.provider) == ("client_error", 400, None)
    assert [(a["provider"], a["status"]) for a in rec.attempts] == [("primary", 400)]


def test_all_failed(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.error(503))
    upstream.on("secondary", "s-chat", fu.error(500))
    r = post(ledger_gateway, {"model": "chat", "messages": MSG})
    assert r.status_code == 502
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.outcome, rec.status, rec.provider) == ("upstream_error", 502, None)
    assert [(a["provider"], a["status"]) for a in rec.attempts] == [("primary", 503), ("secondary", 500)]


def test_budget_exceeded(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.hang())
    r = post(ledger_gateway, {"model": "chat", "messages": MSG}, headers={"x-llms-timeout": "0.5"})
    assert r.status_code == 504
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.outcome, rec.status) == ("timeout", 504)
    assert rec.attempts[0]["provider"] == "primary" and rec.attempts[0]["status"] is None
    assert rec.duration_ms < 5_000


def test_streamed(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.stream(["a", "b", "c"]))
    r = stream(ledger_gateway, {"model": "chat", "messages": MSG})
    assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.outcome, rec.status, rec.stream, rec.provider) == ("ok", 200, True, "primary")
    assert (rec.prompt_tokens, rec.completion_tokens) == (5, 3)  # asked of the upstream for us
    assert rec.cost == pytest.approx(5 * PRICE_IN + 3 * PRICE_OUT)
    assert rec.ttft_ms is not None and 0 <= rec.ttft_ms <= rec.duration_ms


def test_streamed_and_plain_give_equal_tokens(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.stream(["one ", "two ", "three"]))
    s = stream(ledger_gateway, {"model": "chat", "messages": MSG})
    upstream.on("primary", "p-chat", fu.reply("one two three", usage={"prompt_tokens": 5, "completion_tokens": 3,
                                                                     "total_tokens": 8}))
    p = post(ledger_gateway, {"model": "chat", "messages": MSG})
    a, b = ledger.wait_for(s.headers["x-request-id"], p.headers["x-request-id"])
    assert (a.prompt_tokens, a.completion_tokens, a.cost) == (b.prompt_tokens, b.completion_tokens, b.cost)
    assert a.completion_tokens == 3


def test_truncated_stream(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.stream(["a", "b", "c", "d"], cut_after=2))
    r = stream(ledger_gateway, {"model": "chat", "messages": MSG})
    assert r.status_code == 200 and "[DONE]" not in r.text
    assert "error" in sse_events(r.text)[-1]
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.outcome, rec.status, rec.provider) == ("truncated", 200, "primary")
    assert rec.prompt_tokens is None  # no usage came: unknown, not a guess


def test_client_disconnected_mid_stream(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.stream(["x"] * 200, delay=0.05))
    body = {"model": "chat", "messages": MSG, "stream": True}
    with httpx.stream("POST", ledger_gateway.url + "/v1/chat/completions", json=body, timeout=20) as r:
        rid = r.headers["x-request-id"]
        for line in r.iter_lines():
            if '"content":"x"' in line:
                break
    rec = ledger.one(rid)
    assert (rec.outcome, rec.status, rec.provider) == ("cancelled", 200, "primary")


def test_client_disconnected_before_answer(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.hang(5))
    before = {r.id for r in ledger.all()}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(ledger_gateway.url + "/v1/chat/completions", json={"model": "chat", "messages": MSG}, timeout=0.5)
    end = time.monotonic() + 10
    while not (new := [r for r in ledger.all() if r.id not in before]) and time.monotonic() < end:
        time.sleep(0.05)
    (rec,) = new
    assert (rec.outcome, rec.status, rec.provider) == ("cancelled", 499, None)
    assert [a["provider"] for a in rec.attempts] == []  # the attempt never ended: no status to give


def test_request_id_on_every_answer(ledger_gateway, upstream, ledger):
    answers = [
        post(ledger_gateway, {"model": "chat", "messages": MSG}),
        stream(ledger_gateway, {"model": "chat", "messages": MSG}),
        post(ledger_gateway, {"model": "nope", "messages": MSG}),
        httpx.post(ledger_gateway.url + "/v1/chat/completions", content=b"{", timeout=20),
    ]
    ids = [a.headers["x-request-id"] for a in answers]
    assert len(set(ids)) == len(ids) and all(i.startswith("req_") for i in ids)
    assert [r.id for r in ledger.wait_for(*ids)] == ids


def test_status_shows_the_sink(ledger_gateway, upstream, ledger):
    rid = post(ledger_gateway, {"model": "chat", "messages": MSG}).headers["x-request-id"]
    ledger.one(rid)
    usage = httpx.get(ledger_gateway.url + "/status", timeout=10).json()["usage"]
    assert set(usage) == {"queued", "written", "failed", "dropped", "spooled"}
    assert usage["written"] >= 1 and usage["failed"] == usage["dropped"] == 0


def test_failed_after_keepalive_started_the_stream(upstream):
    """Keep-alive frames started the response, then every provider failed: the client got 200
    and an in-band error; the record says upstream_error (nothing was streamed), not truncated."""
    from ..conftest import two_provider_config
    from ..gateway_proc import GatewayProcess
    from .conftest import ENV, Ledger

    async def slow_fail(call: fu.Call):
        import asyncio

        await asyncio.sleep(1.5)
        return await fu.error(503)(call)

    upstream.on("primary", "p-chat", slow_fail)
    upstream.on("secondary", "s-chat", fu.error(500))
    gw = GatewayProcess({**two_provider_config(upstream), "streaming": {"keepalive": 0.5}}, env=ENV).start()
    try:
        r = stream(gw, {"model": "chat", "messages": MSG})
        assert r.status_code == 200 and r.text.startswith(": keep-alive")
        assert "error" in sse_events(r.text)[-1]
        rec = Ledger(gw.home / "usage.db").one(r.headers["x-request-id"])
    finally:
        gw.stop()
    assert (rec.outcome, rec.status, rec.provider) == ("upstream_error", 200, None)
    assert [a["status"] for a in rec.attempts] == [503, 500]


def test_usage_api_serves_the_record(ledger_gateway, upstream, ledger):
    r = post(ledger_gateway, {"model": "chat", "messages": MSG})
    rid = r.headers["x-request-id"]
    ledger.one(rid)
    got = httpx.get(f"{ledger_gateway.url}/usage/requests/{rid}", timeout=10)
    assert got.status_code == 200 and got.json()["id"] == rid and got.json()["outcome"] == "ok"
