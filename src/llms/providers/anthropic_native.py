"""Anthropic Messages passed through natively: when a client speaking the Messages API
(`POST /v1/messages`) is served by the `anthropic` dialect, its request goes upstream as sent
(only `model` rewritten, no provider defaults, no image fetching: Anthropic reads URLs itself),
and the answer comes back as sent — every event's exact bytes — while the usual chat chunks are
made beside them for the commit point, the usage ledger and the accumulator. So cache-control
blocks, thinking signatures, citations and server-tool blocks survive, and nothing is
translated twice. `count_tokens` asks Anthropic's own counter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from ..core.errors import UpstreamConnectionError
from ..core.types import Chunk, Native
from .checks import encode_request

if TYPE_CHECKING:
    from .anthropic import AnthropicProvider

API = "anthropic.messages"


def native_body(native: Native, model: str, *, stream: bool) -> bytes:
    body = {**native.body, "model": model}
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    return encode_request(body)


async def chat(provider: AnthropicProvider, request: Native, alias: str) -> Native:
    from .anthropic import from_anthropic

    model = provider.provider_model(alias)
    body = native_body(request, model, stream=False)
    answer = await _post(provider, provider.url, body, "the answer", "content", list)
    return Native(from_anthropic(answer, model), API, answer)


async def stream(provider: AnthropicProvider, request: Native, alias: str) -> AsyncIterator[Chunk]:
    from .anthropic import StreamMapper

    model = provider.provider_model(alias)
    body = native_body(request, model, stream=True)
    mapper = StreamMapper(provider.name, model, include_usage=True)
    async with provider.client.open(
        "POST", provider.url, body=body, headers=provider.stream_headers, timeouts=provider.timeouts
    ) as r:
        if r.status >= 400:
            raise provider.error(r.status, await r.read(), r.headers)
        async for data in provider.sse_data(r):
            event = provider.loads(data, "a stream event")
            chunks = mapper.feed(event)  # raises on an `error` event: the codec answers it in-band
            kind = event.get("type") if isinstance(event, dict) else None
            frame = b"event: " + str(kind).encode() + b"\ndata: " + data + b"\n\n"
            if not chunks:
                yield Chunk({"choices": []}, native=frame)
                continue
            for i, chunk in enumerate(chunks):
                yield Chunk(chunk, native=frame if i == 0 else b"")
    if not mapper.done:
        raise UpstreamConnectionError(
            "the stream ended before the answer was complete (no message_stop)", provider=provider.name
        )


async def count_tokens(provider: AnthropicProvider, body: dict[str, Any], alias: str) -> dict[str, Any]:
    """Anthropic's `POST /v1/messages/count_tokens` for the client's body."""
    model = provider.provider_model(alias)
    url = provider.url + "/count_tokens"
    payload = orjson.dumps({**body, "model": model})
    return await _post(provider, url, payload, "the token count", "input_tokens", int)


async def _post(
    provider: AnthropicProvider, url: str, body: bytes, what: str, field: str, kind: type
) -> dict[str, Any]:
    """One non-streamed call: an error status becomes the provider's error; the answer must be
    an object whose `field` is a `kind` (checked inside the request, so errors are scrubbed)."""
    async with provider.client.open("POST", url, body=body, headers=provider.headers, timeouts=provider.timeouts) as r:
        data = await r.read()
        if r.status >= 400:
            raise provider.error(r.status, data, r.headers)
        answer = provider.loads(data, what)
        if not isinstance(answer, dict) or not isinstance(answer.get(field), kind):
            raise provider.protocol_error(f"{what} has no `{field}`")
    return answer
