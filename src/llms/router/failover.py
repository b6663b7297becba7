"""Ordered failover: a model alias maps to the enabled providers that serve it, in
`llms.json` order; each is tried until one answers. `is_retryable` alone decides whether to
go on; every failure is kept and the last resort is one aggregate error.

Around that loop: a provider whose breaker is open, or that is at its concurrency cap, is
skipped (not an attempt); a retryable failure moves on to the next candidate at once, and a
transient one is retried at the same provider only in a later lap, once every candidate has
had its turn (`laps.py`; `"retries": {"first": true}` retries first); one time budget
(`budget.py`) bounds the whole request.

Streams may fail over only before their commit point — the first chunk with content — so
`open_stream` reads ahead to it, then hands the server a `CommittedStream` that can no
longer switch. Before the commit the stream's first token must come within the provider's
`first_byte` timeout.

The routing table (providers, lanes, breakers) is swapped whole on reload (`swap`): a
request keeps the table it started with, and the old table counts its requests in flight
so its providers are closed only when they are done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.deadline import NEVER, Deadline, current_deadline
from ..core.errors import AllProvidersFailed, InvalidRequest, NotFound, UpstreamError, is_retryable
from ..core.types import Chunk, RequestRecord, has_content
from ..providers import Provider
from . import budget
from .lanes import Lane, ProviderPolicy, ProviderState, Skip, Unavailable
from .laps import Laps

DEFAULT_BUDGET = 600.0


@dataclass(frozen=True, slots=True)
class RouterPolicy:
    """The request budget (seconds) and each provider's retry/breaker/concurrency policy."""

    budget: float = DEFAULT_BUDGET
    default: ProviderPolicy = field(default_factory=ProviderPolicy)
    providers: Mapping[str, ProviderPolicy] = field(default_factory=dict)

    def for_provider(self, name: str) -> ProviderPolicy:
        return self.providers.get(name, self.default)


class Table:
    """One configuration's routing: alias → lanes in order, and requests in flight.
    `unkeyed`: alias → (provider, env var) of the providers skipped for an unset key, for a
    404 that says what to set."""

    __slots__ = ("providers", "policy", "states", "candidates", "lanes", "active", "unkeyed")

    def __init__(
        self,
        providers: Iterable[Provider],
        policy: RouterPolicy,
        unkeyed: Mapping[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        self.providers = list(providers)
        self.policy = policy
        self.unkeyed = unkeyed or {}
        self.states = {p.name: ProviderState(p, policy.for_provider(p.name)) for p in self.providers}
        self.candidates: dict[str, list[Provider]] = {}
        self.lanes: dict[str, list[Lane]] = {}
        for provider in self.providers:
            state = self.states[provider.name]
            for alias in provider.models:
                self.candidates.setdefault(alias, []).append(provider)
                self.lanes.setdefault(alias, []).append(Lane(state, alias))
        self.active = 0

    def lanes_for(self, model: str) -> list[Lane]:
        found = self.lanes.get(model)
        if not found:
            if model in self.unkeyed:
                raise _keyless(model, self.unkeyed[model])
            raise NotFound(
                f"The model '{model}' does not exist or is not served by any enabled provider. "
                "GET /v1/models lists the available models.",
                code="model_not_found",
                param="model",
            )
        return found

    async def drained(self, timeout: float) -> bool:
        """Wait until no request of this table is in flight (True), or `timeout` passes."""
        end = time.monotonic() + timeout
        while self.active > 0 and time.monotonic() < end:
            await asyncio.sleep(0.05)
        return self.active <= 0


def _keyless(model: str, skipped: list[tuple[str, str]]) -> NotFound:
    """404 for a model the config knows but whose every provider lacks its key."""
    names = ", ".join(name for name, _ in skipped)
    envs = " or ".join(dict.fromkeys(env for _, env in skipped))
    which = "which is" if len(skipped) == 1 else "which are"
    return NotFound(
        f"'{model}' is served by {names}, {which} skipped: set {envs}", code="model_not_found", param="model"
    )


class Router:
    def __init__(
        self,
        providers: Iterable[Provider],
        policy: RouterPolicy | None = None,
        unkeyed: Mapping[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        self._table = Table(providers, policy or RouterPolicy(), unkeyed)

    @classmethod
    def over(cls, table: Table) -> Router:
        """A router routing by an already built `table` (the composition root builds the table
        once the providers have started, and the router once)."""
        router = cls.__new__(cls)
        router._table = table
        return router

    # -- what the server reads --------------------------------------------------------------

    @property
    def providers(self) -> list[Provider]:
        return self._table.providers

    @property
    def candidates(self) -> dict[str, list[Provider]]:
        return self._table.candidates

    @property
    def table(self) -> Table:
        return self._table

    def models(self) -> list[tuple[str, Provider]]:
        """Each alias with the provider that would serve it first, in config order."""
        return [(alias, providers[0]) for alias, providers in self._table.candidates.items()]

    def health(self) -> dict[str, dict[str, Any]]:
        """Per provider: requests in flight, concurrency cap, breaker states (for /status)."""
        return {name: state.status() for name, state in self._table.states.items()}

    def swap(self, table: Table) -> Table:
        """Route new requests by `table` from now on; return the old table."""
        old, self._table = self._table, table
        return old

    # -- requests -----------------------------------------------------------------------------

    async def chat(
        self, request: dict[str, Any], record: RequestRecord, timeout: float | None = None
    ) -> dict[str, Any]:
        table = self._table
        lanes = table.lanes_for(record.model)
        seconds = table.policy.budget if timeout is None or timeout >= table.policy.budget else timeout
        deadline = Deadline(asyncio.get_running_loop().time() + seconds, seconds)
        # Not reset afterwards: aiohttp runs each request in a task of its own (a copied
        # context), and every router call sets it anew — saves a Token per request.
        current_deadline.set(deadline)
        table.active += 1
        try:
            return await _run(table, lanes, request, record, deadline, False)  # type: ignore[no-any-return, unused-ignore]
        finally:
            table.active -= 1

    async def embed(
        self, request: dict[str, Any], record: RequestRecord, timeout: float | None = None
    ) -> dict[str, Any]:
        """`POST /v1/embeddings`, failed over like chat across the model's providers that have
        embeddings (`Provider.supports_embeddings`)."""
        table = self._table
        lanes = [lane for lane in table.lanes_for(record.model) if lane.provider.supports_embeddings]
        if not lanes:
            raise InvalidRequest(
                f"The model '{record.model}' has no provider that serves embeddings",
                param="model",
                code="model_not_found",
            )
        seconds = table.policy.budget if timeout is None or timeout >= table.policy.budget else timeout
        deadline = Deadline(asyncio.get_running_loop().time() + seconds, seconds)
        current_deadline.set(deadline)  # (see chat)
        table.active += 1
        try:
            return await _run(table, lanes, request, record, deadline, False, embed=True)
        finally:
            table.active -= 1

    async def open_stream(
        self, request: dict[str, Any], record: RequestRecord, timeout: float | None = None
    ) -> AsyncIterator[Chunk]:
        """Return a stream already past its commit point (the first content chunk has been
        read, or the stream ended); errors before that point fail over."""
        table = self._table
        lanes = table.lanes_for(record.model)
        seconds = table.policy.budget if timeout is None or timeout >= table.policy.budget else timeout
        deadline = Deadline(asyncio.get_running_loop().time() + seconds, seconds)
        current_deadline.set(deadline)  # (see chat)
        table.active += 1
        try:
            return await _run(table, lanes, request, record, deadline, True)  # type: ignore[no-any-return, unused-ignore]
        except BaseException:
            table.active -= 1
            raise


async def _run(
    table: Table,
    lanes: list[Lane],
    request: dict[str, Any],
    record: RequestRecord,
    deadline: Deadline,
    streaming: bool,
    embed: bool = False,
) -> Any:
    """Try the lanes, lap by lap (`laps.py`: failover first, retry last), until one answers."""
    errors: list[UpstreamError] = []  # (two empty lists: cheaper than testing for None)
    skipped: list[Skip] = []
    laps = Laps(lanes)
    while (lane := laps.next()) is not None:
        if laps.start_at:
            wait = laps.start_at - asyncio.get_running_loop().time()
            if wait > 0:
                if not budget.fits(deadline, wait):
                    continue
                await asyncio.sleep(wait)
        skip = lane.admit()
        if skip is not None:
            skipped.append(skip)
            continue
        began = _start(record, lane.provider)
        try:
            if streaming:
                result: Any = await _open(table, lane, request, record, deadline)
                lane.succeeded()  # at the commit point; the stream holds its slot until it ends
                _served(record, began)
                return result
            if embed:
                result = await lane.provider.embed(request, record.model)
            else:
                result = await lane.provider.chat(request, record.model)
        except UpstreamError as e:
            _failed(record, began, e)
            lane.leave()
            errors.append(e)
            if budget.spent(deadline):
                lane.released()
                raise budget.BudgetExceeded(record.model, deadline, errors, [s.short() for s in skipped]) from None
            lane.failed(e)
            if not is_retryable(e):
                raise
            laps.failed(lane, e)
            continue
        except BaseException:
            lane.leave()
            lane.released()
            raise
        lane.served()
        _served(record, began)
        return result
    if errors:
        failed = AllProvidersFailed(record.model, errors)
        if skipped:
            failed.message += "; " + "; ".join(s.short() for s in skipped)
        raise failed
    raise Unavailable(record.model, skipped)


def _start(record: RequestRecord, provider: Provider) -> float:
    """Note on the record that `provider` is being tried; returns when (perf_counter)."""
    record.provider = provider.name
    record.provider_model = provider.provider_model(record.model)
    record.pricing = provider.price(record.model)
    record.tried.append(provider.name)
    return time.perf_counter()


def _served(record: RequestRecord, began: float) -> None:
    """The attempt answered (a stream: reached its commit point)."""
    record.attempts.append(
        {"provider": record.provider, "status": 200, "error": None, "seconds": time.perf_counter() - began}
    )


def _failed(record: RequestRecord, began: float, error: UpstreamError) -> None:
    """The attempt failed: its upstream status (None when no answer came) and our code."""
    record.attempts.append(
        {
            "provider": record.provider,
            "status": getattr(error, "upstream_status", None),
            "error": error.code or error.type,  # (a status error may carry no code of its own)
            "seconds": time.perf_counter() - began,
        }
    )


async def _open(
    table: Table, lane: Lane, request: dict[str, Any], record: RequestRecord, deadline: Deadline
) -> CommittedStream:
    """Start a stream at one provider and read ahead to its first content chunk."""
    provider = lane.provider
    first = provider.timeouts.first_byte
    deadline.first_token_seconds = first
    deadline.first_token_by = asyncio.get_running_loop().time() + first
    stream = provider.stream(request, record.model)
    ahead: list[Chunk] = []
    try:
        async for chunk in _until_content(stream):
            ahead.append(chunk)
    except BaseException:
        deadline.first_token_by = NEVER
        await stream.aclose()  # type: ignore[attr-defined]
        raise
    deadline.first_token_by = NEVER
    record.first_chunk_at = time.perf_counter()
    return CommittedStream(ahead, stream, lane, table, deadline)


async def _until_content(stream: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    """Chunks of `stream` up to and including the first with content (without closing it)."""
    while True:
        try:
            chunk = await anext(stream)
        except StopAsyncIteration:
            return
        yield chunk
        if has_content(chunk.data):
            return


class CommittedStream:
    """A stream past its commit point: the chunks read ahead, then the rest of the upstream
    stream. A failure now is the provider's (the breaker hears of it) and travels to the
    client in-band. `aclose()` ends it and frees its slot; safe to call more than once, also
    when it was never iterated. (Iteration is an inner async generator: per chunk it costs
    what a plain generator costs, no coroutine object of ours.)"""

    __slots__ = ("_ahead", "_stream", "_lane", "_table", "_deadline", "_open", "_iter")

    def __init__(
        self, ahead: list[Chunk], stream: AsyncIterator[Chunk], lane: Lane, table: Table, deadline: Deadline
    ) -> None:
        self._ahead = ahead
        self._stream = stream
        self._lane = lane
        self._table = table
        self._deadline = deadline
        self._open = True
        self._iter: AsyncGenerator[Chunk, None] | None = None

    def __aiter__(self) -> AsyncGenerator[Chunk, None]:
        if self._iter is None:
            self._iter = self._chunks()
        return self._iter

    async def _chunks(self) -> AsyncGenerator[Chunk, None]:
        for chunk in self._ahead:
            yield chunk
        try:
            async for chunk in self._stream:
                yield chunk
        except UpstreamError as e:
            if self._open:
                if budget.spent(self._deadline):
                    self._lane.released()
                else:
                    self._lane.failed(e)
            raise

    async def aclose(self) -> None:
        if self._open:
            self._open = False
            self._lane.leave()
            self._table.active -= 1
            if self._iter is not None:
                await self._iter.aclose()
            await self._stream.aclose()  # type: ignore[attr-defined]
