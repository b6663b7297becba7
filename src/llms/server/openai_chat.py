"""The inbound codec for OpenAI chat completions (`POST /v1/chat/completions`): parses the body
into a `Call` and encodes what goes back — the JSON answer, stream chunks, and errors in OpenAI's
envelope (the one mapper from our error tree to the wire; `errors.py` uses it for every route).
Anthropic Messages and OpenAI Responses will be sibling modules with the same four parts:
`parse`, `answer`, `StreamCodec` and `error_response`.

Usage is always known: a streamed request asks the upstream for `stream_options.include_usage`
whether or not the client did; when the client did not, the usage-only chunk (and OpenAI's
`"usage":null` on every other chunk) is dropped here, so that client gets the bytes it got before.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from ..core.errors import GatewayError, InvalidRequest, PayloadTooLarge
from ..core.types import Chunk, RequestRecord
from .call import Call
from .runtime import CURRENT

API = "chat.completions"
BUDGET_HEADER = "x-llms-timeout"
DONE = b"data: [DONE]\n\n"
_NULL_USAGE = b',"usage":null'


# -- errors ---------------------------------------------------------------------------------


def envelope(error: GatewayError) -> dict[str, Any]:
    """OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def error_response(error: GatewayError, request_id: str | None = None) -> web.Response:
    headers = error.headers
    if request_id is not None:
        headers = {**headers, "x-request-id": request_id}
    return web.Response(
        status=error.status, body=orjson.dumps(envelope(error)), content_type="application/json", headers=headers
    )


def error_event(error: GatewayError) -> bytes:
    """The in-band error frame of a stream that fails after its commit point."""
    return b"data: " + orjson.dumps(envelope(error)) + b"\n\n"


# -- requests -------------------------------------------------------------------------------


async def _read(request: web.Request) -> bytes:
    """The raw body. Nearly always it came with the head and is read at once; one still
    arriving must be complete within the body timeout (slowloris: a byte every few seconds)."""
    if request.content.is_eof():
        return await request.read()
    current = request.app.get(CURRENT)
    timeout = current.runtime.body_timeout if current is not None else None
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


async def read_checked(
    request: web.Request, max_size: int, record: RequestRecord, api: str, check: Callable[[dict[str, Any]], None]
) -> tuple[dict[str, Any], float | None]:
    """How the sibling codecs start: the budget header, the body read once, their own checks;
    the record learns the model and the API. Returns the body and the budget."""
    budget = requested_budget(request)
    body = await read_body(request, max_size)
    check(body)
    record.model = body["model"]
    record.api = api
    return body, budget


async def parse(request: web.Request, max_size: int, record: RequestRecord) -> Call:
    """Read and check the body once; the record learns the model and whether it streams."""
    budget = requested_budget(request)
    body = await read_body(request, max_size)
    check_chat(body)
    record.model = body["model"]
    call = Call(body, record, budget=budget)
    if body.get("stream"):
        record.stream = True
        opts = body.get("stream_options")
        if not (isinstance(opts, dict) and opts.get("include_usage")):
            # (a `stream_options` that is not an object is left for the input checks to refuse)
            if opts is None or isinstance(opts, dict):
                body["stream_options"] = {**opts, "include_usage": True} if opts else {"include_usage": True}
                call.strip_usage = True
    return call


# -- answers --------------------------------------------------------------------------------


def headers(record: RequestRecord) -> dict[str, str]:
    """`x-request-id` and who served the request (`x-llms-*`)."""
    out = {
        "x-request-id": record.id,
        "x-llms-provider": record.provider,
        "x-llms-provider-model": record.provider_model,
    }
    if len(record.tried) > 1:
        out["x-llms-tried"] = ",".join(record.tried)
    if record.pricing:  # the price of the provider that answered, also after a failover
        out["x-llms-pricing"] = record.pricing
    if record.headers:  # the key's x-ratelimit-*
        out.update(record.headers)
    return out


def answer(result: dict[str, Any], call: Call) -> web.Response:
    """A non-streamed answer: the upstream's completion with llms.py's metadata."""
    record = call.record
    add_metadata(result, record)
    return web.Response(body=orjson.dumps(result), content_type="application/json", headers=headers(record))


def add_metadata(result: dict[str, Any], record: RequestRecord) -> None:
    """llms.py's `metadata.duration` (ms) and `metadata.pricing` on a non-streamed answer, as
    strings: OpenAI's `metadata` is a string → string map, and a number there breaks clients
    that validate the schema. Merged over the upstream's own `metadata` (OpenAI echoes the
    request's), which is left alone when it is not an object."""
    ours = {"duration": str(round((time.perf_counter() - record.started) * 1000))}
    if record.pricing:
        ours["pricing"] = record.pricing
    theirs = result.get("metadata")
    if theirs is None:
        result["metadata"] = ours
    elif isinstance(theirs, dict):
        result["metadata"] = {**theirs, **ours}


def encode_chunk(chunk: Chunk) -> bytes:
    raw = chunk.raw
    if raw is None or b"\n" in raw:  # a multi-line upstream event must be re-serialised
        raw = orjson.dumps(chunk.data)
    return b"data: " + raw + b"\n\n"


def strip_usage(chunk: Chunk) -> bytes | None:
    """`encode_chunk` for a client that did not ask for usage: None for the usage-only chunk,
    the chunk without its `usage` key otherwise (OpenAI sends `"usage":null` on every chunk
    once it is asked)."""
    data = chunk.data
    if "usage" not in data:
        return encode_chunk(chunk)
    if data["usage"] and not data.get("choices"):
        return None
    raw = chunk.raw
    if data["usage"] is None and raw is not None and b"\n" not in raw and raw.count(_NULL_USAGE) == 1:
        return b"data: " + raw.replace(_NULL_USAGE, b"") + b"\n\n"
    return b"data: " + orjson.dumps({k: v for k, v in data.items() if k != "usage"}) + b"\n\n"


class StreamCodec:
    """What the stream driver needs from a codec: content type, headers, frames."""

    __slots__ = ()
    content_type = "text/event-stream"
    done = DONE
    headers = staticmethod(headers)
    error = staticmethod(error_event)

    @staticmethod
    def chunk_encoder(call: Call) -> Any:
        return strip_usage if call.strip_usage else encode_chunk


STREAM = StreamCodec()
