"""Fault behaviours for the fake upstream (tests/fake_upstream.py): each is a handler
`Call -> response`, scriptable per provider and model. The healthy answer is an *echo*:
the text depends on the request (`expected(content)`), so a client can tell its own
complete answer from a truncated, mixed-up or someone else's one.

Every faulty handler counts itself in `Counter.faults`, for the suite's summary table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

from tests import fake_upstream as fu

Handler = Callable[[fu.Call], Awaitable[web.StreamResponse]]


def expected(content: str) -> str:
    return f"echo({content}) complete."


def pieces(text: str, size: int = 5) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _content(call: fu.Call) -> str:
    messages = call.body.get("messages") if isinstance(call.body, dict) else None
    return str(messages[-1].get("content", "")) if messages else ""


@dataclass
class Counter:
    calls: int = 0
    faults: int = 0


def counted(counter: Counter, handler: Handler, *, fault: bool = True) -> Handler:
    async def handle(call: fu.Call) -> web.StreamResponse:
        counter.calls += 1
        if fault:
            counter.faults += 1
        return await handler(call)

    return handle


async def _start_sse(call: fu.Call) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(call.request)
    await resp.write(fu.sse(fu.chunk(call.model, {"role": "assistant", "content": ""})))
    return resp


def echo(*, delay: float = 0.0, first_delay: float = 0.0, size: int = 5, big: int = 0) -> Handler:
    """The healthy answer, streamed or not. `big=n` prepends one piece of n bytes."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        text = expected(_content(call))
        parts = pieces(text, size)
        if big:
            parts = ["x" * big, *parts]
            text = "x" * big + text
        if first_delay:
            await asyncio.sleep(first_delay)
        if not call.body.get("stream"):
            return web.json_response(fu.completion(text, call.model))
        resp = await _start_sse(call)
        for i, part in enumerate(parts):
            if delay and i:
                await asyncio.sleep(delay)
            await resp.write(fu.sse(fu.chunk(call.model, {"content": part})))
        await resp.write(fu.sse(fu.chunk(call.model, {}, "stop")))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    return handle


def cut_after(n: int) -> Handler:
    """Stream n pieces of the answer, then reset the connection."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        resp = await _start_sse(call)
        for part in pieces(expected(_content(call)))[:n]:
            await resp.write(fu.sse(fu.chunk(call.model, {"content": part})))
        await asyncio.sleep(0.01)
        call.request.transport.abort()
        return resp

    return handle


def silent_after(n: int, seconds: float = 30.0, *, comments: bool = False) -> Handler:
    """Headers, n pieces, then nothing (or only `: ping` comments) for `seconds`."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        resp = await _start_sse(call)
        for part in pieces(expected(_content(call)))[:n]:
            await resp.write(fu.sse(fu.chunk(call.model, {"content": part})))
        end = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.2)
            if comments:
                await resp.write(b": ping\n\n")
        return resp

    return handle


def ends_early(n: int) -> Handler:
    """n pieces, then a clean end of the response: no finish_reason, no [DONE]."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        resp = await _start_sse(call)
        for part in pieces(expected(_content(call)))[:n]:
            await resp.write(fu.sse(fu.chunk(call.model, {"content": part})))
        return resp

    return handle


def garbage_after(n: int) -> Handler:
    """n pieces, then an event that is not JSON."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        resp = await _start_sse(call)
        for part in pieces(expected(_content(call)))[:n]:
            await resp.write(fu.sse(fu.chunk(call.model, {"content": part})))
        await resp.write(b'data: {"choices": [{"delta": {"content": "oops"\n\n')
        await resp.write(b"data: [DONE]\n\n")
        return resp

    return handle


def status(code: int, *, retry_after: str | None = None, message: str = "upstream trouble") -> Handler:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return fu.error(code, message, headers=headers)


def malformed_json() -> Handler:
    return fu.raw_body(b'{"id": "x", "choices": [ {"message": ')


def recovering(counter: Counter, failures: int, then: Handler) -> Handler:
    """503 for the first `failures` calls, then `then` (a provider that comes back)."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        counter.calls += 1
        if counter.calls <= failures:
            counter.faults += 1
            return web.Response(
                status=503,
                body=orjson.dumps({"error": {"message": "warming up", "type": "server_error"}}),
                content_type="application/json",
            )
        return await then(call)

    return handle


def endless_line(megabytes: int) -> Handler:
    """A role chunk, then one event that never ends: `data: xxxx…` without a newline."""

    async def handle(call: fu.Call) -> web.StreamResponse:
        resp = await _start_sse(call)
        await resp.write(b'data: {"choices": [{"index": 0, "delta": {"content": "')
        block = b"x" * (1 << 20)
        for _ in range(megabytes):
            await resp.write(block)
        return resp

    return handle


def series(*handlers: Handler) -> Handler:
    """One handler per call, in order; the last one answers every call after that (a
    provider that fails n times, then answers — or keeps failing)."""
    calls = 0

    async def handle(call: fu.Call) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        return await handlers[min(calls, len(handlers)) - 1](call)

    return handle
