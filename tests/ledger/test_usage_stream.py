"""Usage is always known: the gateway asks OpenAI-compatible upstreams for it on every stream,
and a client that did not ask gets exactly the bytes it got before (no usage chunk, no
`"usage":null` on its chunks), checked on the raw response body."""

from __future__ import annotations

import httpx
from aiohttp import web

from .. import fake_upstream as fu
from ..test_failover import MSG

PIECES = ["Hel", "lo", "!"]


def expected(model: str, usage: dict | None = None) -> bytes:
    """The stream `fu.stream(PIECES)` sends, as the client should receive it."""
    frames = [fu.chunk(model, {"role": "assistant", "content": ""})]
    frames += [fu.chunk(model, {"content": p}) for p in PIECES]
    frames.append(fu.chunk(model, {}, "stop"))
    if usage is not None:
        frames.append(fu.chunk(model, usage=usage))
    return b"".join(fu.sse(f) for f in frames) + b"data: [DONE]\n\n"


def raw_stream(gateway, **extra) -> httpx.Response:
    body = {"model": "chat", "messages": MSG, "stream": True, **extra}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=20)


USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def test_client_that_did_not_ask_gets_the_same_bytes(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.stream(PIECES))
    r = raw_stream(ledger_gateway)
    assert r.content == expected("p-chat")
    assert b"usage" not in r.content
    sent = upstream.received("primary")[-1].body
    assert sent["stream_options"] == {"include_usage": True}  # asked for us
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.prompt_tokens, rec.completion_tokens) == (5, 3)


def test_client_that_asked_gets_the_usage_chunk(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.stream(PIECES))
    r = raw_stream(ledger_gateway, stream_options={"include_usage": True})
    assert r.content == expected("p-chat", USAGE)
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.prompt_tokens, rec.completion_tokens) == (5, 3)


def test_other_stream_options_are_kept(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", fu.stream(PIECES))
    r = raw_stream(ledger_gateway, stream_options={"include_obfuscation": False})
    assert r.content == expected("p-chat")
    sent = upstream.received("primary")[-1].body
    assert sent["stream_options"] == {"include_obfuscation": False, "include_usage": True}


def openai_style() -> fu.Handler:
    """Like OpenAI once usage is asked for: `"usage":null` on every chunk, then the usage chunk."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(call.request)
        asked = (call.body.get("stream_options") or {}).get("include_usage")
        frames = [fu.chunk(call.model, {"role": "assistant", "content": ""})]
        frames += [fu.chunk(call.model, {"content": p}) for p in PIECES]
        frames.append(fu.chunk(call.model, {}, "stop"))
        for f in frames:
            if asked:
                f["usage"] = None
            await resp.write(fu.sse(f))
        if asked:
            await resp.write(fu.sse(fu.chunk(call.model, usage=USAGE)))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    return handle


def test_null_usage_on_every_chunk_is_stripped(ledger_gateway, upstream, ledger):
    upstream.on("primary", "p-chat", openai_style())
    r = raw_stream(ledger_gateway)
    assert r.content == expected("p-chat")
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.prompt_tokens, rec.completion_tokens) == (5, 3)


def test_no_usage_from_upstream_is_null(ledger_gateway, upstream, ledger):
    async def no_usage(call: fu.Call) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(call.request)
        await resp.write(fu.sse(fu.chunk(call.model, {"content": "hi"}, "stop")) + b"data: [DONE]\n\n")
        return resp

    upstream.on("primary", "p-chat", no_usage)
    r = raw_stream(ledger_gateway)
    assert r.status_code == 200
    rec = ledger.one(r.headers["x-request-id"])
    assert (rec.outcome, rec.prompt_tokens, rec.completion_tokens, rec.cost) == ("ok", None, None, None)
