"""A fake OpenAI-compatible upstream on a real loopback socket, scriptable per provider and
model, recording what it received. It runs its own event loop in a thread, so sync clients,
async tests and a gateway subprocess can all use it.

Each "provider" is a path prefix: `base_url("p1")` → `http://127.0.0.1:PORT/p1`, so the
gateway calls `/p1/v1/chat/completions`. `on("p1", "model-id", behaviour)` scripts it.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from aiohttp import web

Handler = Callable[["Call"], Awaitable[web.StreamResponse]]


@dataclass
class Call:
    """One request the upstream received."""

    provider: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    request: web.Request = field(repr=False)
    disconnected: bool = False
    finished: bool = False
    closed_at: float | None = None

    @property
    def model(self) -> str:
        return self.body.get("model", "") if isinstance(self.body, dict) else ""


def completion(
    text: str,
    model: str = "fake-model",
    *,
    finish: str = "stop",
    tool_calls: list | None = None,
    usage: dict | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["content"] = None
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage
        or {
            "prompt_tokens": 5,
            "completion_tokens": max(1, len(text.split())),
            "total_tokens": 5 + max(1, len(text.split())),
        },
        "system_fingerprint": "fp_fake",
    }


def chunk(
    model: str, delta: dict[str, Any] | None = None, finish: str | None = None, usage: dict | None = None
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": []
        if delta is None and finish is None
        else [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not None:
        c["usage"] = usage
    return c


def sse(data: Any) -> bytes:
    return b"data: " + (data if isinstance(data, bytes) else orjson.dumps(data)) + b"\n\n"


# -- behaviours --------------------------------------------------------------------------------


def reply(text: str = "Hello!", **kw: Any) -> Handler:
    async def handle(call: Call) -> web.StreamResponse:
        return web.json_response(completion(text, call.model, **kw))

    return handle


def stream(
    pieces: list[str] | None = None,
    *,
    delay: float = 0.0,
    first_delay: float = 0.0,
    tool_calls: list[dict] | None = None,
    cut_after: int | None = None,
    done: bool = True,
    finish: str | None = None,
    garbage_after: int | None = None,
    usage: dict | None = None,
) -> Handler:
    """SSE: a role chunk, one chunk per piece (`delay` apart), a finish chunk, a usage chunk when
    the request asked for it, `[DONE]`. `cut_after=n` aborts the connection after n pieces;
    `garbage_after=n` sends a non-JSON event after n pieces."""
    pieces = ["Hel", "lo", " there", "!"] if pieces is None and tool_calls is None else (pieces or [])

    async def handle(call: Call) -> web.StreamResponse:
        model = call.model
        if first_delay:
            await asyncio.sleep(first_delay)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(call.request)
        await resp.write(sse(chunk(model, {"role": "assistant", "content": ""})))
        for i, piece in enumerate(pieces):
            if cut_after is not None and i == cut_after:
                call.request.transport.abort()
                return resp
            if garbage_after is not None and i == garbage_after:
                await resp.write(b"data: {not json at all\n\n")
            if delay and i:
                await asyncio.sleep(delay)
            await resp.write(sse(chunk(model, {"content": piece})))
        for i, tc in enumerate(tool_calls or ()):
            args = tc["function"]["arguments"]
            half = len(args) // 2
            await resp.write(
                sse(
                    chunk(
                        model,
                        {
                            "tool_calls": [
                                {
                                    "index": i,
                                    "id": tc["id"],
                                    "type": "function",
                                    "function": {"name": tc["function"]["name"], "arguments": args[:half]},
                                }
                            ]
                        },
                    )
                )
            )
            await resp.write(sse(chunk(model, {"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]})))
        if not done:
            return resp
        await resp.write(sse(chunk(model, {}, finish or ("tool_calls" if tool_calls else "stop"))))
        opts = call.body.get("stream_options") or {}
        if opts.get("include_usage"):
            await resp.write(
                sse(
                    chunk(
                        model,
                        usage=usage
                        or {"prompt_tokens": 5, "completion_tokens": len(pieces), "total_tokens": 5 + len(pieces)},
                    )
                )
            )
        await resp.write(b"data: [DONE]\n\n")
        return resp

    return handle


def error(
    status: int,
    message: str = "upstream error",
    *,
    type: str = "server_error",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    code: str | None = None,
    param: str | None = None,
) -> Handler:
    async def handle(call: Call) -> web.StreamResponse:
        body = (
            raw
            if raw is not None
            else orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})
        )
        return web.Response(status=status, body=body, content_type="application/json", headers=headers)

    return handle


def hang(seconds: float = 3600) -> Handler:
    async def handle(call: Call) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response(completion("too late", call.model))

    return handle


def reset() -> Handler:
    async def handle(call: Call) -> web.StreamResponse:
        call.request.transport.abort()
        raise asyncio.CancelledError

    return handle


def vector_for(text: str, dims: int = 8) -> list[float]:
    """A deterministic unit-ish vector for a text (same text → same vector, across dialects)."""
    seed = sum((i + 1) * b for i, b in enumerate(text.encode())) or 1
    return [round(((seed * (k + 7)) % 1000) / 1000 - 0.5, 3) for k in range(dims)]


def embeddings(dims: int = 8) -> Handler:
    """Answers embeddings in the dialect the path names: OpenAI `/embeddings` (honouring
    `encoding_format: base64`), Gemini `:batchEmbedContents`, Ollama `/api/embed`."""

    async def handle(call: Call) -> web.StreamResponse:
        body = call.body or {}
        if call.path.endswith(":batchEmbedContents"):
            texts = [r["content"]["parts"][0]["text"] for r in body["requests"]]
            return web.json_response({"embeddings": [{"values": vector_for(t, dims)} for t in texts]})
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        vectors = [vector_for(t if isinstance(t, str) else str(t), dims) for t in texts]
        if call.path.endswith("/api/embed"):
            answer = {"model": body["model"], "embeddings": vectors, "prompt_eval_count": len(texts) * 3}
            return web.json_response(answer)
        data = []
        for i, v in enumerate(vectors):
            value: Any = v
            if body.get("encoding_format") == "base64":
                value = base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()
            data.append({"object": "embedding", "index": i, "embedding": value})
        usage = {"prompt_tokens": len(texts) * 3, "total_tokens": len(texts) * 3}
        return web.json_response({"object": "list", "data": data, "model": body["model"], "usage": usage})

    return handle


EMBEDDING_PATHS = ("/embeddings", ":batchEmbedContents", "/api/embed")


def raw_body(body: bytes, content_type: str = "application/json", status: int = 200) -> Handler:
    async def handle(call: Call) -> web.StreamResponse:
        return web.Response(status=status, body=body, content_type=content_type)

    return handle


# -- hostile upstreams (tests/security/test_upstream_*.py) ---------------------------------------

# A flood stops by itself after this long, so a gateway that fails to cut it cannot hang a test run.
FLOOD_SECONDS = 20.0


def credentials_seen(call: Call) -> str:
    """Every credential a request carried, in headers and in the query string."""
    got = [call.headers.get(h, "") for h in ("Authorization", "x-api-key", "x-goog-api-key", "api-key")]
    return f"{' | '.join(g for g in got if g)} (query: {call.request.query_string})"


def echo_credentials(status: int = 401, *, as_text: bool = False, in_stream: bool = False) -> Handler:
    """An error that repeats every credential it received (some vendors do: `Invalid API
    key: Bearer sk-…`) in its message, code and param; `as_text`: as a plain-text body
    (a gateway quoting it as "not JSON" must not leak it either); `in_stream`: as an error
    event inside a 200 SSE stream (OpenAI's and Anthropic's shapes at once)."""

    async def handle(call: Call) -> web.StreamResponse:
        message = f"Invalid API key: {credentials_seen(call)}"
        if as_text:
            return web.Response(status=status, text=message)
        err = {"message": message, "type": "api_error", "param": message, "code": message}
        if in_stream:
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(call.request)
            await resp.write(b"event: error\n" + sse({"type": "error", "error": err}))
            return resp
        return web.json_response({"error": err}, status=status)

    return handle


def redirect(location: str, status: int = 307) -> Handler:
    async def handle(call: Call) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handle


def _flood(head: bytes, piece: bytes, max_bytes: int | None = None) -> Handler:
    """An SSE answer: `head`, then `piece` as fast as the socket takes it, for FLOOD_SECONDS
    or until `max_bytes` went out (then the connection closes)."""

    async def handle(call: Call) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(call.request)
        await resp.write(head)
        block = piece * max(1, 16384 // len(piece))
        end = time.monotonic() + FLOOD_SECONDS
        sent = 0
        while time.monotonic() < end and (max_bytes is None or sent < max_bytes):
            await resp.write(block)
            sent += len(block)
            await asyncio.sleep(0)  # let the server loop breathe; the socket is still never idle
        return resp

    return handle


def comment_flood() -> Handler:
    """SSE comment frames (`: ping`) forever: bytes flow, no event ever comes."""
    return _flood(b"", b": ping\n\n")


def content_flood() -> Handler:
    """A real answer that never ends: content chunks as fast as the socket takes them."""
    c = sse(chunk("flood", {"content": "la "}))
    return _flood(sse(chunk("flood", {"role": "assistant", "content": ""})) + c, c)


def endless_event(max_bytes: int | None = None, *, content_first: bool = False) -> Handler:
    """One SSE event that never ends: `data:` lines and never the blank line (after a first
    content chunk when `content_first`, i.e. past the gateway's commit point)."""
    head = sse(chunk("flood", {"role": "assistant", "content": "Hi"})) if content_first else b""
    return _flood(head, b"data: " + b"x" * 1000 + b"\n", max_bytes)


def huge_body(size: int) -> Handler:
    """A non-streamed JSON answer of `size` bytes (streamed out, never held whole here)."""

    async def handle(call: Call) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(call.request)
        head = orjson.dumps(completion("big", call.model))[:-1] + b', "pad": "'
        await resp.write(head)
        left = size - len(head) - 2
        block = b"x" * 65536
        while left > 0:
            await resp.write(block[: min(left, len(block))])
            left -= len(block)
        await resp.write(b'"}')
        return resp

    return handle


# -- the server --------------------------------------------------------------------------------


class LoopbackServer:
    """An aiohttp app on 127.0.0.1 (a free port) with its own event loop in a thread, so sync
    clients, async tests and gateway subprocesses can all reach it. Subclasses add routes."""

    thread_name = "loopback-server"

    def __init__(self, **runner_kwargs: Any) -> None:
        self.port = 0
        self._runner_kwargs = {"handler_cancellation": True, "access_log": None, **runner_kwargs}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name=self.thread_name)
        self._runner: web.AppRunner | None = None

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.add_routes(app)
        self._runner = web.AppRunner(app, **self._runner_kwargs)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]


class FakeUpstream(LoopbackServer):
    thread_name = "fake-upstream"

    def __init__(self, **runner_kwargs: Any) -> None:
        super().__init__(**runner_kwargs)
        self.scripts: dict[tuple[str, str], Handler] = {}
        self.calls: list[Call] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{provider}/{tail:.*}", self._handle)

    # scripting
    def on(self, provider: str, model: str, handler: Handler) -> None:
        self.scripts[(provider, model)] = handler

    def reset(self) -> None:
        self.scripts.clear()
        self.calls.clear()

    def base_url(self, provider: str) -> str:
        return f"http://127.0.0.1:{self.port}/{provider}"

    def received(self, provider: str | None = None) -> list[Call]:
        return [c for c in self.calls if provider is None or c.provider == provider]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        provider = request.match_info["provider"]
        call = Call(provider, request.path, dict(request.headers), body, raw, request)
        self.calls.append(call)
        handler = self.scripts.get((provider, call.model)) or self.scripts.get((provider, "*"))
        if handler is None and request.path.endswith(EMBEDDING_PATHS):
            handler = embeddings()
        if handler is None:
            is_stream = isinstance(body, dict) and body.get("stream")
            handler = stream() if is_stream else reply(f"Hello from {provider}")
        try:
            resp = await handler(call)
            call.finished = True
            return resp
        except (asyncio.CancelledError, ConnectionResetError):
            call.disconnected = True
            call.closed_at = time.monotonic()
            raise
