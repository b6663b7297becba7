"""`POST /v1/chat/completions` — and its sibling APIs `/v1/messages`, `/v1/responses` and
`/v1/embeddings`, the same pipeline with another inbound codec — end to end, for one request —

    codec.parse(body) -> Call -> router (each attempt noted on the record)
    -> codec.answer(result)  or  stream driver (commit point, heartbeats, shutdown)
    -> services.record(record)   however the request ended

A stream ends in exactly one of three ways: `data: [DONE]` after a complete answer; an
in-band error event (and no `[DONE]`) when it fails after its first chunk, when the
gateway shuts down under it, or when it failed before content after keep-alive frames had
already started the response; or a plain HTTP error status when it failed before anything
was sent. `x-llms-timeout: SECONDS` lowers the request's time budget. Every answer carries
`x-request-id`, the id of the request's record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import ModuleType
from typing import Any, cast

from aiohttp import web

from ..core.errors import GatewayError
from ..core.outbound import REQUEST_ID_HEADER, Outbound, current_outbound
from ..core.overhead import overhead_seconds
from ..core.types import RequestRecord
from ..router import Router
from . import anthropic_messages, openai_chat, openai_embeddings, openai_responses
from .call import new_record
from .driver import SHUTTING_DOWN, StreamDriver, outcome_of
from .request_id import RequestIds
from .runtime import Current, Services

access_log = logging.getLogger("llms.access")
OVERHEAD_HEADER = "x-llms-overhead-ms"
CANCELLED = 499  # nginx's "client closed request": the client left before an answer


class ChatHandler:
    def __init__(self, router: Router, current: Current, services: Services, verbose: bool = False) -> None:
        self.router = router
        self.current = current
        self.services = services
        self.verbose = verbose
        self.driver = StreamDriver()
        self.ids = RequestIds()  # a client's `x-request-id`, made unique among the recent ones
        self.active: set[asyncio.Task[Any]] = set()  # chat requests being handled

    async def __call__(self, request: web.Request, codec: ModuleType = openai_chat) -> web.StreamResponse:
        task = cast("asyncio.Task[Any]", asyncio.current_task())  # (a handler always runs in one)
        self.active.add(task)
        record = new_record(self.ids.accept(request.headers.get(REQUEST_ID_HEADER)))
        # every upstream request of this one carries its id, and so does every log line about it
        # (aiohttp runs each request in a task of its own: the variable never leaks into another)
        current_outbound.set(Outbound(record.id))
        try:
            return await self._handle(request, record, codec)
        except GatewayError as e:
            return _failed(record, e, codec)
        except asyncio.CancelledError:
            if not self.driver.cutting:
                if not record.status:
                    record.status, record.outcome = CANCELLED, "cancelled"
                    record.error = record.error or "client disconnected"
                raise
            task.uncancel()
            return _failed(record, SHUTTING_DOWN, codec)  # nothing sent yet: a 503 the client can retry elsewhere
        except Exception:  # a bug: the error middleware answers 500 (and logs it)
            record.status, record.outcome = 500, "upstream_error"
            raise
        finally:
            self.active.discard(task)
            self._finish(record)

    # The sibling APIs: the same pipeline with another inbound codec (one handler, so shutdown
    # and the ledger treat every API alike).
    async def messages(self, request: web.Request) -> web.StreamResponse:
        return await self(request, anthropic_messages)

    async def responses(self, request: web.Request) -> web.StreamResponse:
        return await self(request, openai_responses)

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self(request, openai_embeddings)

    def cut(self) -> int:
        """The shutdown deadline: end every chat request still running — a stream with an
        in-band error event and a clean end, anything else with a 503. Returns how many."""
        self.driver.cutting = True
        for task in self.active:
            task.cancel()
        return len(self.active)

    async def _handle(self, request: web.Request, record: RequestRecord, codec: ModuleType) -> web.StreamResponse:
        runtime = self.current.runtime
        gate = self.services.gate
        key = gate.identify(request) if gate is not None else None  # 401 before the body is read
        call = await codec.parse(request, runtime.max_size, record)
        trace = self.services.trace
        if trace is not None:  # tracing on: the request's span, and a child span per attempt
            operation = "embeddings" if call.op == "embed" else "chat"
            current_outbound.set(trace(record.id, request.headers, record, call.body, operation))
        if key is not None:
            assert gate is not None
            record.key = key.name
            decision = await gate.admit(key, record.model, call.body, request.content_length)
            if decision is not None:
                record.limit, record.headers = decision, decision.headers
        content = self.services.store_content
        if record.stream:
            opening = self.router.open_stream(call.body, record, call.budget)
            return await self.driver.run(
                request, call, opening, codec.STREAM, runtime.keepalive, runtime.write_timeout, content
            )
        if call.op == "embed":
            result = await self.router.embed(call.body, record, call.budget)
        else:
            result = await self.router.chat(call.body, record, call.budget)
        record.status = 200
        record.usage = result.get("usage")
        if content:
            record.content = {"request": call.body, "response": result}
        response: web.Response = codec.answer(result, call)
        response.headers[OVERHEAD_HEADER] = overhead_ms(record)  # every API's non-streamed answer
        return response

    def _finish(self, record: RequestRecord) -> None:
        """The request is over: hand its record to the ledger (a queue append) and log it."""
        sink = self.services.record
        if sink is not None:
            try:
                sink(record)
            except Exception:  # the ledger must never fail a request
                access_log.exception("usage record %s could not be queued", record.id)
        if self.verbose:
            log_chat(record)


def _failed(record: RequestRecord, error: GatewayError, codec: ModuleType) -> web.Response:
    record.outcome = outcome_of(error)
    response: web.Response = codec.error_response(error, record.id)
    record.status, record.error = response.status, error  # (Anthropic's 529 is not our 502)
    response.headers[OVERHEAD_HEADER] = overhead_ms(record)  # (errors are answers too)
    if record.headers:  # x-ratelimit-* on every answer (a refusal carries its own)
        for name, value in record.headers.items():
            response.headers.setdefault(name, value)
    return response


def overhead_ms(record: RequestRecord) -> str:
    """`x-llms-overhead-ms`: the request's time so far less its upstream attempts' (`core/overhead.py`)."""
    return f"{overhead_seconds(time.perf_counter() - record.started, record.attempts) * 1000:.3f}"


def log_chat(record: RequestRecord) -> None:
    """`--verbose`: one line per chat request. Keys and auth headers are never logged."""
    error = record.error
    status = record.status or CANCELLED
    if isinstance(error, GatewayError) and status == 200:
        status_text = f"200+error({error.status})"
    else:
        status_text = str(status)
    ttft_ms = (record.first_chunk_at - record.started) * 1000 if record.first_chunk_at else None
    ttft = "-" if ttft_ms is None else f"{ttft_ms:.1f}ms"
    latency_ms = (time.perf_counter() - record.started) * 1000
    usage = record.usage or {}
    error_text = (error.message if isinstance(error, GatewayError) else str(error)) if error else None
    access_log.info(
        "%s model=%s tried=%s provider=%s status=%s latency=%.1fms ttft=%s tokens=%s/%s%s",
        record.id,
        record.model or "-",
        ",".join(record.tried) or "-",
        record.provider if status < 400 else "-",
        status_text,
        latency_ms,
        ttft,
        usage.get("prompt_tokens", "-"),
        usage.get("completion_tokens", "-"),
        f" error={error_text}" if error else "",
        extra={"fields": _fields(record, status, latency_ms, ttft_ms, error_text)},
    )


def _fields(
    record: RequestRecord, status: int, latency_ms: float, ttft_ms: float | None, error: str | None
) -> dict[str, Any]:
    """The access line's facts, typed, for `--log-format json`."""
    usage = record.usage or {}
    return {
        "request_id": record.id,
        "model": record.model or None,
        "tried": record.tried,
        "provider": record.provider if status < 400 else None,
        "status": status,
        "outcome": record.outcome,
        "stream": record.stream,
        "latency_ms": round(latency_ms, 3),
        "ttft_ms": None if ttft_ms is None else round(ttft_ms, 3),
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "error": error,
    }
