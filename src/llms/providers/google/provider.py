"""Gemini's URL and auth, and `GoogleProvider`: sends the mapped request, plain or as an SSE
stream, and hands the answer to the response mapping."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import orjson

from ...core.errors import UpstreamConnectionError, UpstreamStatusError
from ...core.types import Chunk, ProviderConfig
from .. import embeddings
from ..base import Provider
from ..checks import encode_request
from ..images import ImageFetcher
from ..native import wants_usage
from .request import to_gemini
from .response import StreamMapper, from_gemini, gemini_error

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
_VERSIONED = re.compile(r"/v\d+(alpha|beta)?\d*$")


def model_url(base_url: str, model: str, *, stream: bool) -> str:
    """base_url + /v1beta/models/{model}:generateContent (or :streamGenerateContent?alt=sse)."""
    base = base_url.rstrip("/")
    if not _VERSIONED.search(base):
        base += "/v1beta"
    name = model if "/" in model else f"models/{model}"
    return f"{base}/{name}:" + ("streamGenerateContent?alt=sse" if stream else "generateContent")


class GoogleProvider(Provider):
    supports_embeddings = True

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.base_url = config.base_url or DEFAULT_BASE_URL
        self.key_in_query = bool(config.extra.get("key_in_query"))
        headers = {"Content-Type": "application/json", **config.headers}
        headers.pop("Authorization", None)  # Gemini rejects a bearer token next to an API key
        if config.api_key and not self.key_in_query:
            headers["x-goog-api-key"] = config.api_key
        self.headers = headers
        self.safety_settings = config.extra.get("safety_settings")
        self.thinking_config = config.extra.get("thinking_config")
        self.images = ImageFetcher.from_config(self.name, config.extra.get("fetch_image_urls"))

    def url(self, model: str, *, stream: bool) -> str:
        url = model_url(self.base_url, model, stream=stream)
        if self.key_in_query and self.config.api_key:
            url += ("&" if "?" in url else "?") + "key=" + quote(self.config.api_key, safe="")
        return url

    async def _prepare(self, request: dict[str, Any], alias: str) -> tuple[dict[str, Any], bytes]:
        req = self.with_defaults(request, alias)
        if self.images is not None:
            req = await self.images.inline(req)
        body = to_gemini(req, self.name, safety_settings=self.safety_settings, thinking_config=self.thinking_config)
        return req, encode_request(body)

    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        req, body = await self._prepare(request, alias)
        url = self.url(req["model"], stream=False)
        async with self.client.open("POST", url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.error(r.status, data, r.headers)
            answer = self.loads(data, "the answer")  # (inside `open()`: scrubbed there)
            if not isinstance(answer, dict):
                raise self.protocol_error("the answer is not a JSON object")
            if answer.get("error"):
                raise self.error(502, data)
        return from_gemini(answer, req["model"])

    async def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        req, body = await self._prepare(request, alias)
        url = self.url(req["model"], stream=True)
        mapper = StreamMapper(self.name, req["model"], wants_usage(req))
        async with self.client.open("POST", url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            if r.status >= 400:
                raise self.error(r.status, await r.read(), r.headers)
            async for data in self.sse_data(r):
                for chunk in mapper.feed(self.loads(data, "a stream event")):
                    yield Chunk(chunk)
        if not mapper.finished:
            raise UpstreamConnectionError(
                "the stream ended before the answer was complete (no finishReason)", provider=self.name
            )
        for chunk in mapper.close():
            yield Chunk(chunk)

    async def embed(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        """`batchEmbedContents`, one request per input, answered as OpenAI's embeddings."""
        model = self.provider_model(alias)
        body = encode_request(embeddings.to_gemini(request, model))
        base = self.base_url.rstrip("/")
        url = embeddings.gemini_url(base if _VERSIONED.search(base) else base + "/v1beta", model)
        if self.key_in_query and self.config.api_key:
            url += "?key=" + quote(self.config.api_key, safe="")
        async with self.client.open("POST", url, body=body, headers=self.headers, timeouts=self.timeouts) as r:
            data = await r.read()
            if r.status >= 400:
                raise self.error(r.status, data, r.headers)
            try:
                vectors = embeddings.from_gemini(self.loads(data, "the answer"))
            except ValueError as e:
                raise self.protocol_error(str(e)) from None
        count = embeddings.estimate_tokens(embeddings.texts_of(request))
        return embeddings.answer(vectors, model, count, request.get("encoding_format"))

    def error(self, status: int, body: bytes, headers: Any = None) -> UpstreamStatusError:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = {"error": {"message": body.decode("utf-8", "replace")[:300]}}
        return gemini_error(self.name, status, data, headers)
