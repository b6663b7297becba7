"""Ordered failover: a model alias maps to the enabled providers that serve it, in
`llms.json` order; each is tried until one answers. `is_retryable` alone decides whether to
go on; every failure is kept and the last resort is one aggregate error.

Streams may fail over only before their commit point — the first chunk with content — so
`open_stream` reads ahead to it, then hands the server a stream that can no longer switch.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ..core.errors import AllProvidersFailed, NotFound, UpstreamError, is_retryable
from ..core.types import Attempt, Chunk, has_content
from ..providers import Provider


class Router:
    def __init__(self, providers: Iterable[Provider]) -> None:
        self.providers = list(providers)
        self.candidates: dict[str, list[Provider]] = {}
        for provider in self.providers:
            for alias in provider.models:
                self.candidates.setdefault(alias, []).append(provider)

    def models(self) -> list[tuple[str, Provider]]:
        """Each alias with the provider that would serve it first, in config order."""
        return [(alias, providers[0]) for alias, providers in self.candidates.items()]

    def _candidates(self, model: str) -> list[Provider]:
        found = self.candidates.get(model)
        if not found:
            raise NotFound(
                f"The model '{model}' does not exist or is not served by any enabled provider. "
                "GET /v1/models lists the available models.",
                code="model_not_found",
                param="model",
            )
        return found

    async def chat(self, request: dict[str, Any], attempt: Attempt) -> dict[str, Any]:
        errors: list[UpstreamError] = []
        for provider in self._candidates(attempt.model):
            _start(attempt, provider)
            try:
                return await provider.chat(request, attempt.model)
            except UpstreamError as e:
                if not is_retryable(e):
                    raise
                errors.append(e)
        raise AllProvidersFailed(attempt.model, errors)

    async def open_stream(self, request: dict[str, Any], attempt: Attempt) -> AsyncIterator[Chunk]:
        """Return a stream already past its commit point (the first content chunk has been
        read, or the stream ended); errors before that point fail over."""
        errors: list[UpstreamError] = []
        for provider in self._candidates(attempt.model):
            _start(attempt, provider)
            stream = provider.stream(request, attempt.model)
            ahead: list[Chunk] = []
            try:
                async for chunk in _until_content(stream, ahead):
                    ahead.append(chunk)
            except UpstreamError as e:
                await stream.aclose()
                if not is_retryable(e):
                    raise
                errors.append(e)
                continue
            except BaseException:
                await stream.aclose()
                raise
            attempt.first_chunk_at = time.perf_counter()
            return _chain(ahead, stream)
        raise AllProvidersFailed(attempt.model, errors)


def _start(attempt: Attempt, provider: Provider) -> None:
    attempt.provider = provider.name
    attempt.provider_model = provider.provider_model(attempt.model)
    attempt.pricing = provider.price(attempt.model)
    attempt.tried.append(provider.name)


async def _until_content(stream: AsyncIterator[Chunk], ahead: list[Chunk]) -> AsyncIterator[Chunk]:
    """Chunks of `stream` up to and including the first with content (without closing it)."""
    while True:
        try:
            chunk = await anext(stream)
        except StopAsyncIteration:
            return
        yield chunk
        if has_content(chunk.data):
            return


async def _chain(ahead: list[Chunk], stream: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    try:
        for chunk in ahead:
            yield chunk
        async for chunk in stream:
            yield chunk
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
