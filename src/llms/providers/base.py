"""What every provider is: `chat(request, alias) -> response` and `stream(request, alias)
-> async iterator of chunks`, plus a name and `aclose()`. Requests and responses are OpenAI
chat shapes; a native dialect translates inside its own module and nowhere else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from ..core.errors import UpstreamError, UpstreamProtocolError, UpstreamStatusError
from ..core.types import Chunk, ProviderConfig
from ..transport import NDJSONDecoder, Scrubber, SSEDecoder, UpstreamClient, UpstreamResponse, retry_after_seconds

if TYPE_CHECKING:
    from .images import ImageFetcher


class ProviderUnavailable(Exception):
    """A factory's answer when its entry cannot run on this machine (e.g. an optional extra
    is not installed). `llms.app` skips that provider with this one-line message."""


class ProviderConfigInvalid(ValueError):
    """A factory's answer when one of its dialect-specific keys is wrong; `llms.app` turns it
    into a config error at `providers.<name>.<key>`."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key, self.reason = key, reason


class Provider:
    """Base class: holds the entry's models, default parameters, headers and timeouts, and
    one pooled upstream client. Subclasses implement `chat` and `stream`."""

    #: optional abilities, as flags (the router and UI may read them)
    supports_images = True
    supports_tools = True
    supports_embeddings = False  # `embed` answers `POST /v1/embeddings` (providers/embeddings.py)
    #: inbound APIs (`core.types.Native.api`) whose requests this dialect sends upstream as they are
    native_apis: frozenset[str] = frozenset()

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.name = config.name
        self.models = dict(config.models)
        self.timeouts = config.timeouts
        self.client = UpstreamClient(
            config.name,
            scrubber=Scrubber.for_provider(config.api_key, config.headers, config.base_url),
            max_body=config.max_body,
            max_event=config.max_event,
        )
        self.images: ImageFetcher | None = None  # a native dialect's `fetch_image_urls` (images.py)

    async def start(self) -> None:
        """Work a provider does once at start or reload (e.g. discover its models)."""

    def info(self) -> dict[str, Any]:
        """Live facts `GET /status` adds to this provider's entry (e.g. a local model's memory)."""
        return {}

    def provider_model(self, alias: str) -> str:
        return self.models.get(alias, alias)

    def is_embedding_model(self, alias: str) -> bool:
        """True for a model `/v1/models` marks as an embedding model: listed in the entry's
        `embedding_models`, or named like one (`text-embedding-3-small`, `nomic-embed-text`)."""
        if not self.supports_embeddings:
            return False
        listed = self.config.extra.get("embedding_models")
        if isinstance(listed, list) and alias in listed:
            return True
        return "embed" in self.provider_model(alias).lower()

    def price(self, alias: str) -> str | None:
        return self.config.price(self.provider_model(alias))

    def with_defaults(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        """The request as sent upstream: the entry's default parameters, overridden by the
        client's own values, and the provider's model id."""
        params = self.config.params
        body = {**params, **request} if params else dict(request)
        body["model"] = self.provider_model(alias)
        return body

    async def chat(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        raise NotImplementedError

    def stream(self, request: dict[str, Any], alias: str) -> AsyncIterator[Chunk]:
        raise NotImplementedError

    async def embed(self, request: dict[str, Any], alias: str) -> dict[str, Any]:
        """An OpenAI embeddings request → OpenAI's embeddings answer. A dialect without
        embeddings says so as a retryable error, so the router fails over to one that has them."""
        raise UpstreamError(
            f"{self.name} does not serve embeddings", provider=self.name, code="embeddings_not_supported"
        )

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.images is not None:
            await self.images.aclose()

    # -- helpers shared by dialects --------------------------------------------------------

    def status_error(self, status: int, body: bytes, headers: Any = None) -> UpstreamStatusError:
        """An upstream HTTP error as ours: the vendor's message, type, code and param when
        it sent them (OpenAI's `context_length_exceeded` / `messages` reach the client as
        sent, so `e.code` checks work through the gateway). Raise it inside the client's
        `open()` block: that is where upstream text is scrubbed of secrets."""
        message, type_ = error_message(body)
        code, param = error_code_param(body)
        return UpstreamStatusError(
            message or f"HTTP {status}",
            provider=self.name,
            upstream_status=status,
            upstream_type=type_,
            retry_after=retry_after_seconds(headers),
            code=code,
            param=param,
        )

    def protocol_error(self, what: str) -> UpstreamProtocolError:
        return UpstreamProtocolError(f"bad response: {what}", provider=self.name)

    async def sse_data(self, response: UpstreamResponse) -> AsyncIterator[bytes]:
        """The data of each SSE event as it arrives, through to a last event that lacks
        its blank line."""
        decoder = SSEDecoder(self.client.max_event)
        async for data in response.iter_chunks():
            for event in decoder.feed(data):
                yield event.data
        for event in decoder.flush():
            yield event.data

    async def ndjson_lines(self, response: UpstreamResponse) -> AsyncIterator[bytes]:
        """Each non-empty NDJSON line as it arrives, through to a last one without its newline."""
        decoder = NDJSONDecoder()
        async for data in response.iter_chunks():
            for line in decoder.feed(data):
                yield line
        for line in decoder.flush():
            yield line

    def loads(self, data: bytes, what: str) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise self.protocol_error(f"{what} is not valid JSON: {data[:80]!r}") from None


def error_code_param(body: bytes) -> tuple[str | None, str | None]:
    """OpenAI's `error.code` and `error.param` (strings only; a number code becomes text)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return None, None
    code, param = err.get("code"), err.get("param")
    code = str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) else None
    return code or None, param if isinstance(param, str) and param else None


def error_message(body: bytes) -> tuple[str, str | None]:
    """The message and type from an error body in any of the common shapes:
    `{"error": {"message", "type"}}`, `{"error": "text"}`, `{"message": …}`, `{"detail": …}`,
    a list of those (Gemini), or plain text."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:300], None
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return str(data)[:300], None
    err = data.get("error", data)
    if isinstance(err, str):
        return err[:300], None
    if isinstance(err, dict):
        msg = err.get("message") or err.get("detail") or err.get("msg") or ""
        type_ = err.get("type") or err.get("status")
        return str(msg)[:300], type_ if isinstance(type_, str) else None
    return str(err)[:300], None
