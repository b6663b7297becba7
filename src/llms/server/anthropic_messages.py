"""The inbound codec for Anthropic's Messages API (`POST /v1/messages`), a sibling of
`openai_chat`: `parse` turns the body into a `Call` whose request is the internal chat request
wrapped as a `Native` carrying the client's own body (so the `anthropic` dialect passes it
through untouched, and every other provider gets the translation); `answer`, `STREAM` and
`error_response` speak Anthropic's shapes (messages/*.py). `anthropic-version` is accepted and
not required; `x-api-key` is read as the client key by the auth guard (client keys).

`POST /v1/messages/count_tokens` (`count_tokens`): Anthropic's own count when the model's first
provider is the `anthropic` dialect, else an estimate (messages/count.py, docs/apis.md)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..core.errors import GatewayError, NotFound, UpstreamError
from ..core.types import Chunk, Native, RequestRecord
from ..router import Router
from .auth import Gate, model_not_allowed
from .call import Call
from .messages.count import estimate_tokens
from .messages.errors import error_body, error_event
from .messages.request import check, to_chat
from .messages.response import to_message
from .messages.stream import MessageStream
from .openai_chat import headers, read_body, read_checked
from .runtime import Current

API = "messages"
NATIVE = "anthropic.messages"  # `Native.api`, as the anthropic dialect's `native_apis` names it


def error_response(error: GatewayError, request_id: str | None = None) -> web.Response:
    status, body = error_body(error, request_id)
    extra = {"x-request-id": request_id, "request-id": request_id} if request_id else {}
    return web.Response(status=status, body=body, content_type="application/json", headers={**error.headers, **extra})


async def parse(request: web.Request, max_size: int, record: RequestRecord) -> Call:
    body, budget = await read_checked(request, max_size, record, API, check)
    chat = to_chat(body)
    if body.get("stream"):
        record.stream = True
        chat["stream_options"] = {"include_usage": True}  # message_delta carries the usage
    return Call(Native(chat, NATIVE, body), record, budget=budget)


def answer(result: dict[str, Any], call: Call) -> web.Response:
    """The Messages answer: the upstream's own when Anthropic served it natively."""
    if isinstance(result, Native) and result.api == NATIVE:
        message = result.body
    else:
        message = to_message(result, call.record.model)
    hdrs = headers(call.record)
    hdrs["request-id"] = call.record.id
    return web.Response(body=orjson.dumps(message), content_type="application/json", headers=hdrs)


class Encoder:
    """One streamed answer's events; a native stream's chunks carry their own bytes."""

    __slots__ = ("stream", "native")

    def __init__(self, model: str) -> None:
        self.stream = MessageStream(model)
        self.native = False

    def __call__(self, chunk: Chunk) -> bytes | None:
        if chunk.native is not None:
            self.native = True
            return chunk.native or None
        return self.stream.feed(chunk.data)

    def close(self) -> bytes:
        return b"" if self.native else self.stream.close()

    def fail(self, error: GatewayError) -> bytes:
        return error_event(error)


class StreamCodec:
    __slots__ = ()
    content_type = "text/event-stream"
    done = b""  # (each stream's `Encoder.close` writes the end)
    headers = staticmethod(headers)
    error = staticmethod(error_event)

    @staticmethod
    def chunk_encoder(call: Call) -> Encoder:
        return Encoder(call.record.model)


STREAM = StreamCodec()


class CountTokens:
    """`POST /v1/messages/count_tokens` → `{"input_tokens": N}`."""

    def __init__(self, router: Router, current: Current, gate: Gate | None = None) -> None:
        self.router = router
        self.current = current
        self.gate = gate  # client keys: the same who and which models as a Messages request

    async def __call__(self, request: web.Request) -> web.Response:
        try:
            key = self.gate.identify(request) if self.gate is not None else None
            body = await read_body(request, self.current.runtime.max_size)
            model = body.get("model")
            if key is not None and isinstance(model, str) and not key.allows(model):
                raise model_not_allowed(model, key.name)
            providers = self.router.candidates.get(model) if isinstance(model, str) else None
            if not providers:
                raise NotFound(f"model: {model!r} is not served here", param="model")
            first = providers[0]
            counted = None
            if NATIVE in getattr(first, "native_apis", ()):
                try:
                    counted = await first.count_tokens(body, model)  # type: ignore[attr-defined]
                except UpstreamError:
                    counted = None  # the estimate, rather than an error, when Anthropic cannot count now
            answer = counted or {"input_tokens": estimate_tokens(body)}
            hdrs = {"x-llms-token-count": "exact" if counted else "estimate"}
            return web.Response(body=orjson.dumps(answer), content_type="application/json", headers=hdrs)
        except GatewayError as e:
            return error_response(e)
