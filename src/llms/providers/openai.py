"""The `openai` dialect (`OpenAiProvider`): any OpenAI-compatible chat completions API —
OpenAI, Groq, OpenRouter, Mistral, DeepSeek, Together, vLLM, llama.cpp, LM Studio, … —
as a near pass-through: rewrite `model`, merge defaults, forward every other field as sent."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from ..core.errors import UpstreamConnectionError, UpstreamStatusError
from ..core.types import Chunk, ProviderConfig
from ..transport import SSEDecoder
from .base import Provider
from .checks import encode_request

DEFAULT_BASE_URL = "https://api.openai.com"
_VERSIONED = re.compile(r"/v\d+$")


def embeddings_url(base_url: str) -> str:
    """The same rule as `chat_url`, for `/embeddings`."""
    base = base_url.rstrip("/")
    return base + ("/embeddings" if _VERSIONED.search(base) else "/v1/embeddings")


def chat_url(base_url: str) -> str:
    """llms.py's rule: base_url + /chat/completions when its last segment is v<digits>,
    else base_url + /v1/chat/completions."""
    base = base_url.rstrip("/")
    return base + ("/chat/completions" if _VERSIONED.search(base) else "/v1/chat/completions")


class OpenAiProvider(Provider):
    supports_embeddings = True

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.url = chat_url(config.base_url or DEFAULT_BASE_URL)
        self.embeddings_url = embeddings_url(config.base_url or DEFAULT_BASE_URL)
        headers = {"Content-Type": "application/json", **config.headers}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self.headers = headers
        self.stream_headers = {**headers, "Accept": "text/event-stream"}

    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        body = encode_request(self.with_defaults(request, alias))
        async with self.client.open("POST", self.url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.status_error(r.status, data, r.headers)
            # (still inside `open()`: errors quoting the answer are scrubbed there)
            result = self.loads(data, "the answer")
            if not isinstance(result, dict) or not isinstance(result.get("choices"), list):
                if isinstance(result, dict) and result.get("error"):
                    raise self.status_error(502, data)
                raise self.protocol_error("the answer has no `choices`")
        return result

    async def embed(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        """A pass-through: only `model` is rewritten (chat defaults do not apply)."""
        body = encode_request({**request, "model": self.provider_model(alias)})
        url = self.embeddings_url
        async with self.client.open("POST", url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.status_error(r.status, data, r.headers)
            result = self.loads(data, "the answer")
            if not isinstance(result, dict) or not isinstance(result.get("data"), list):
                raise self.protocol_error("the embeddings answer has no `data`")
        return result

    async def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        body = encode_request(self.with_defaults(request, alias))
        async with self.client.open(
            "POST", self.url, body=body, headers=self.stream_headers, timeouts=self.timeouts
        ) as r:
            if r.status >= 400:
                raise self.status_error(r.status, await r.read(), r.headers)
            if not r.headers.get("Content-Type", "").startswith("text/event-stream"):
                # Some servers ignore `stream`: turn their whole answer into chunks.
                for chunk in completion_to_chunks(self.loads(await r.read(), "the answer")):
                    yield Chunk(chunk)
                return
            decoder = SSEDecoder(self.client.max_event)
            finished = False
            async for data in r.iter_chunks():
                for event in decoder.feed(data):
                    if event.data == b"[DONE]":
                        return
                    chunk = self.loads(event.data, "a stream event")
                    if not isinstance(chunk, dict) or "choices" not in chunk:
                        raise self._in_band_error(chunk)
                    if not finished:
                        finished = any(c.get("finish_reason") for c in chunk["choices"])
                    yield Chunk(chunk, event.data)
            if decoder.pending:
                raise self.protocol_error("the stream ended in the middle of an event")
            if not finished:
                raise UpstreamConnectionError(
                    "the stream ended before the answer was complete (no finish_reason, no [DONE])",
                    provider=self.name,
                )

    def _in_band_error(self, chunk: Any) -> UpstreamStatusError | Exception:
        if isinstance(chunk, dict) and chunk.get("error"):
            return self.status_error(502, orjson.dumps(chunk))
        return self.protocol_error("a stream event is not a chat.completion.chunk")


def completion_to_chunks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A whole `chat.completion` as the chunks a stream would have carried."""
    base = {
        "id": result.get("id", ""),
        "object": "chat.completion.chunk",
        "created": result.get("created", 0),
        "model": result.get("model", ""),
    }
    chunks = []
    for choice in result.get("choices") or ():
        delta = dict(choice.get("message") or {})
        for i, call in enumerate(delta.get("tool_calls") or ()):
            delta["tool_calls"][i] = {"index": i, **call}
        chunks.append({**base, "choices": [{"index": choice.get("index", 0), "delta": delta, "finish_reason": None}]})
        chunks.append(
            {
                **base,
                "choices": [
                    {
                        "index": choice.get("index", 0),
                        "delta": {},
                        "finish_reason": choice.get("finish_reason") or "stop",
                    }
                ],
            }
        )
    if result.get("usage"):
        chunks.append({**base, "choices": [], "usage": result["usage"]})
    return chunks
