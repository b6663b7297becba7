"""`POST /v1/chat/completions`: read and check the body once, hand it to the router, answer
with JSON or forward the stream event by event (flushed per event, never buffered).

A stream ends in exactly one of three ways: `data: [DONE]` after a complete answer; an
in-band error event (and no `[DONE]`) when it fails after its first chunk, when the
gateway shuts down under it, or when it failed before content after keep-alive frames had
already started the response; or a plain HTTP error status when it failed before anything
was sent. `x-llms-timeout: SECONDS` lowers the request's time budget.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from typing import Any

import orjson
from aiohttp import web

from ..core.errors import GatewayError, InvalidRequest, PayloadTooLarge
from ..core.types import Attempt
from ..router import Router
from .keepalive import Heartbeat
from .sse import DONE, encode_chunk, encode_error

BUDGET_HEADER = "x-llms-timeout"
SHUTTING_DOWN = GatewayError(
    "The gateway stopped before the answer was complete (shutting down)", status=503, code="shutting_down"
)

access_log = logging.getLogger("llms.access")
# The server settings (`ServerSettings`), for what a request reads that follows reloads.
SETTINGS: web.AppKey[Any] = web.AppKey("llms.settings")


async def _read(request: web.Request) -> bytes:
    """The raw body. Nearly always it came with the head and is read at once; one still
    arriving must be complete within the body timeout (slowloris: a byte every few seconds)."""
    if request.content.is_eof():
        return await request.read()
    settings = request.app.get(SETTINGS)
    timeout = getattr(settings, "body_timeout", None)
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise GatewayError(
            f"Request body not received within {timeout:g} s",
            status=408,
            type="invalid_request_error",
            code="request_timeout",
        ) from None


async def read_body(request: web.Request, max_size: int) -> dict[str, Any]:
    """The JSON body as a dict, or a 400/413 that says what is wrong."""
    if request.content_length is not None and request.content_length > max_size:
        raise PayloadTooLarge(f"Request body of {request.content_length} bytes is over the limit of {max_size} bytes")
    try:
        raw = await _read(request)
    except web.HTTPRequestEntityTooLarge:
        raw = None
    if raw is None or len(raw) > max_size:
        raise PayloadTooLarge(f"Request body is over the limit of {max_size} bytes")
    if not raw:
        raise InvalidRequest("Request body is empty: expected a JSON object with `model` and `messages`")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InvalidRequest(f"Request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object")
    return body


def check_chat(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("`model` is required and must be a non-empty string", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("`messages` is required and must be a non-empty array", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise InvalidRequest(f"`messages[{i}]` must be an object with a string `role`", param=f"messages[{i}]")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("`stream` must be a boolean", param="stream")


class ChatHandler:
    def __init__(self, router: Router, max_size: int, keepalive: float = 15.0, write_timeout: float = 60.0) -> None:
        self.router = router
        self.max_size = max_size
        self.keepalive = keepalive
        self.write_timeout = write_timeout
        self.active: set[asyncio.Task[Any]] = set()  # chat requests being handled
        self.cutting = False  # the shutdown deadline has passed

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        self.active.add(task)  # type: ignore[arg-type]
        try:
            return await self._handle(request)
        except asyncio.CancelledError:
            if not self.cutting:
                raise
            task.uncancel()  # type: ignore[union-attr]
            raise SHUTTING_DOWN from None  # nothing sent yet: a 503 the client can retry elsewhere
        finally:
            self.active.discard(task)  # type: ignore[arg-type]

    def cut(self) -> int:
        """The shutdown deadline: end every chat request still running — a stream with an
        in-band error event and a clean end, anything else with a 503. Returns how many."""
        self.cutting = True
        for task in self.active:
            task.cancel()
        return len(self.active)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        attempt = Attempt(model="", started=time.perf_counter())
        request["llms.attempt"] = attempt
        budget = requested_budget(request)
        body = await read_body(request, self.max_size)
        check_chat(body)
        attempt.model = body["model"]
        if body.get("stream"):
            return await self._stream(request, body, attempt, budget)
        result = await self.router.chat(body, attempt, budget)
        metadata: dict[str, Any] = {"duration": round((time.perf_counter() - attempt.started) * 1000)}
        if attempt.pricing:
            metadata["pricing"] = attempt.pricing
        result["metadata"] = metadata
        request["llms.usage"] = result.get("usage")
        return web.Response(body=orjson.dumps(result), content_type="application/json", headers=_headers(attempt))

    async def _stream(
        self, request: web.Request, body: dict[str, Any], attempt: Attempt, budget: float | None
    ) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/event-stream"
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        beat = Heartbeat(request, response, self.keepalive, self.write_timeout)
        stream = None
        try:
            try:
                stream = await self.router.open_stream(body, attempt, budget)
            finally:
                await beat.settle()
            if not beat.started:
                response.headers.update(_headers(attempt))
                beat.started = True
                await response.prepare(request)
            write = response.write
            usage = None
            async for chunk in stream:
                if chunk.data.get("usage"):
                    usage = chunk.data["usage"]
                beat.pending += 1
                await write(encode_chunk(chunk))
                beat.pending -= 1
                beat.writes += 1
            # [DONE] and the end of the chunked body in one write: a client that stops reading at
            # [DONE] then holds a complete response and keeps its connection (before, ~1 in 8
            # sequential streams reconnected, because the end came only after our cleanup).
            await response.write_eof(DONE)
            request["llms.usage"] = usage
        except GatewayError as e:
            if not beat.started:
                raise  # nothing sent yet: a real HTTP error status
            # Past the commit point: the error travels in-band and the stream ends, no [DONE].
            request["llms.error"] = e
            await _write_quietly(response, encode_error(e))
        except ConnectionError:
            request["llms.error"] = "client too slow, cut off" if beat.aborted else "client disconnected"
        except asyncio.CancelledError:
            if not (self.cutting and beat.started):
                request["llms.error"] = "client too slow, cut off" if beat.aborted else "client disconnected"
                raise
            # The shutdown deadline: end the stream properly (an error event, then a clean end).
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            request["llms.error"] = SHUTTING_DOWN
            await _end_in_band(response, SHUTTING_DOWN)
        finally:
            beat.stop()
            if stream is not None:
                await stream.aclose()  # type: ignore[attr-defined]
        return response


def requested_budget(request: web.Request) -> float | None:
    """The `x-llms-timeout` header in seconds (it can only lower the configured budget)."""
    raw = request.headers.get(BUDGET_HEADER)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise InvalidRequest(f"`{BUDGET_HEADER}` must be a number of seconds above 0, got {raw!r}", param=BUDGET_HEADER)
    return value


async def _end_in_band(response: web.StreamResponse, error: GatewayError) -> None:
    """Write the error event and end the response cleanly (quietly, if the client is gone)."""
    try:
        await response.write(encode_error(error))
        await response.write_eof()
    except (ConnectionError, RuntimeError):
        pass


async def _write_quietly(response: web.StreamResponse, data: bytes) -> None:
    try:
        await response.write(data)
    except (ConnectionError, RuntimeError):  # client gone, or the transport already closed
        pass


def _headers(attempt: Attempt) -> dict[str, str]:
    headers = {"x-llms-provider": attempt.provider, "x-llms-provider-model": attempt.provider_model}
    if len(attempt.tried) > 1:
        headers["x-llms-tried"] = ",".join(attempt.tried)
    if attempt.pricing:  # the price of the provider that answered, also after a failover
        headers["x-llms-pricing"] = attempt.pricing
    return headers


def new_request_id() -> str:
    return "req_" + os.urandom(8).hex()
