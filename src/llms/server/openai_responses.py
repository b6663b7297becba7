"""The inbound codec for OpenAI's Responses API (`POST /v1/responses`, stateless), a sibling of
`openai_chat`: `parse` turns the body into a `Call` whose request is the internal chat request,
wrapped as a `Native` that keeps the client's body (the answer echoes its settings, as OpenAI's
does; no dialect passes Responses through natively yet); `answer`, `STREAM` and errors speak the
Responses shapes (responses/*.py). Errors use OpenAI's envelope, as OpenAI does on this API."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..core.errors import GatewayError
from ..core.types import Chunk, Native, RequestRecord
from .call import Call
from .openai_chat import error_event, error_response, headers, read_checked
from .responses.request import check, to_chat
from .responses.response import to_response
from .responses.stream import ResponseStream

__all__ = ["API", "answer", "error_response", "parse"]

API = "responses"
NATIVE = "openai.responses"


def original(call: Call) -> dict[str, Any]:
    body = call.body
    return body.body if isinstance(body, Native) else body


async def parse(request: web.Request, max_size: int, record: RequestRecord) -> Call:
    body, budget = await read_checked(request, max_size, record, API, check)
    chat = to_chat(body)
    if body.get("stream"):
        record.stream = True
        chat["stream_options"] = {"include_usage": True}  # response.completed carries the usage
    return Call(Native(chat, NATIVE, body), record, budget=budget)


def answer(result: dict[str, Any], call: Call) -> web.Response:
    response = to_response(result, original(call), call.record.model)
    return web.Response(body=orjson.dumps(response), content_type="application/json", headers=headers(call.record))


class Encoder:
    __slots__ = ("stream",)

    def __init__(self, call: Call) -> None:
        self.stream = ResponseStream(original(call), call.record.model)

    def __call__(self, chunk: Chunk) -> bytes | None:
        return self.stream.feed(chunk.data)

    def close(self) -> bytes:
        return self.stream.close()

    def fail(self, error: GatewayError) -> bytes:
        return self.stream.fail(error)


class StreamCodec:
    __slots__ = ()
    content_type = "text/event-stream"
    done = b""  # (each stream's `Encoder.close` writes `response.completed`)
    headers = staticmethod(headers)
    error = staticmethod(error_event)

    @staticmethod
    def chunk_encoder(call: Call) -> Encoder:
        return Encoder(call)


STREAM = StreamCodec()
