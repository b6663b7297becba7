"""The one upstream HTTP client: a pooled keep-alive aiohttp session per provider, with the
four LLM timeouts (connect, first byte, idle gap, total) and transport failures mapped to
the gateway's error tree. Responses are always released, also when the caller is cancelled
(a client that goes away closes the upstream connection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from ..core.deadline import Deadline, current_deadline
from ..core.errors import UpstreamConnectionError, UpstreamProtocolError, UpstreamTimeout
from ..core.types import Timeouts

# The longest line a streamed answer may have (an SSE event with a large base64 image fits).
MAX_LINE = 16 << 20
# Which limit an attempt's single timer is currently set to (for the timeout message).
FIRST_BYTE, IDLE, TOTAL, BUDGET, FIRST_TOKEN = range(5)


class UpstreamResponse:
    """An upstream answer whose headers have arrived; the body is read under the attempt's
    idle and total deadlines, the request's budget and, for a stream that has not yet
    produced content, its first-token deadline.

    The timer is lazy: each chunk only moves `_due` forward; one timer handle wakes up when
    the earliest possible expiry comes, re-arms itself if data came meanwhile, and else
    fires the attempt's `asyncio.Timeout`. (Rescheduling the Timeout per chunk cost ~1 µs
    and a timer allocation per chunk.)"""

    __slots__ = (
        "_resp",
        "_deadline",
        "_total_at",
        "_total_why",
        "_clock",
        "_loop",
        "_timeouts",
        "why",
        "provider",
        "status",
        "headers",
        "_due",
        "_timer",
        "_timer_at",
    )

    def __init__(
        self,
        resp: aiohttp.ClientResponse,
        deadline: asyncio.Timeout,
        total_at: float,
        total_why: int,
        clock: Deadline | None,
        provider: str,
        timeouts: Timeouts,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._resp = resp
        self._deadline = deadline
        self._total_at = total_at
        self._total_why = total_why
        self._clock = clock
        self._loop = loop
        self._timeouts = timeouts
        self.why = FIRST_BYTE  # until the first _arm, the headers' timer still runs (open() sets which)
        self.provider = provider
        self.status = resp.status
        self.headers = resp.headers
        self._due = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    async def read(self) -> bytes:
        """The whole body (for non-streamed answers)."""
        if not self._resp.content.is_eof():  # usually the body came with the headers: no wait, no timer
            self._arm(self._timeouts.idle)
        try:
            return await self._resp.read()
        except aiohttp.ClientError as e:
            raise _connection_error(self.provider, e) from None

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; each wait is bounded by the idle timeout. Streams are
        line-framed (SSE, NDJSON): a line over MAX_LINE bytes is a protocol error, so a
        broken upstream cannot make a decoder buffer without bound."""
        content = self._resp.content
        idle = self._timeouts.idle
        line = 0  # bytes since the last newline
        try:
            while True:
                self._arm(idle)
                data = await content.readany()
                if not data:
                    return
                end = data.rfind(b"\n")
                line = len(data) - end - 1 if end >= 0 else line + len(data)
                if line > MAX_LINE:
                    raise UpstreamProtocolError(
                        f"bad response: a stream line is over {MAX_LINE >> 20} MiB", provider=self.provider
                    )
                yield data
        except aiohttp.ClientError as e:
            raise _connection_error(self.provider, e) from None

    def _arm(self, seconds: float) -> None:
        """Allow `seconds` from now, never past the total, the budget or (before a stream's
        first token) the first-token deadline."""
        at = self._loop.time() + seconds
        why = IDLE
        if self._total_at <= at:
            at, why = self._total_at, self._total_why
        clock = self._clock
        if clock is not None and clock.first_token_by < at:
            at, why = clock.first_token_by, FIRST_TOKEN
        self.why = why
        self._due = at
        if self._timer is None:
            self._deadline.reschedule(None)  # the headers' timer is done: the lazy one takes over
            self._timer, self._timer_at = self._loop.call_at(at, self._check), at
        elif at < self._timer_at:
            self._timer.cancel()
            self._timer, self._timer_at = self._loop.call_at(at, self._check), at

    def _check(self) -> None:
        now = self._loop.time()
        if now >= self._due:
            self._timer = None
            self._deadline.reschedule(now)  # expire: the attempt's task gets its TimeoutError
        else:
            self._timer, self._timer_at = self._loop.call_at(self._due, self._check), self._due

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class UpstreamClient:
    """Pooled HTTP client for one provider (created lazily inside the running loop)."""

    def __init__(self, provider: str, *, limit: int = 0) -> None:
        self.provider = provider
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=30, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    @asynccontextmanager
    async def open(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        timeouts: Timeouts,
    ) -> AsyncIterator[UpstreamResponse]:
        """Send the request and yield once the response headers are in. Timeouts raise
        `UpstreamTimeout` naming the limit that ran out; connection failures
        `UpstreamConnectionError`. The request's `Deadline` (when the router set one) caps
        every wait."""
        session = self._get_session()
        loop = asyncio.get_running_loop()
        start = loop.time()
        clock = current_deadline.get()
        total_at, total_why = start + timeouts.total, TOTAL
        if clock is not None and clock.at < total_at:
            total_at, total_why = clock.at, BUDGET
        first_at, why = start + timeouts.first_byte, FIRST_BYTE
        if total_at <= first_at:
            first_at, why = total_at, total_why
        answer: UpstreamResponse | None = None
        try:
            async with asyncio.timeout_at(first_at) as deadline:
                async with session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=_client_timeout(timeouts.connect),
                ) as resp:
                    answer = UpstreamResponse(resp, deadline, total_at, total_why, clock, self.provider, timeouts, loop)
                    answer.why = why
                    try:
                        yield answer
                    finally:
                        answer.stop()
        except TimeoutError:
            raise UpstreamTimeout(
                "timeout: " + _timeout_text(answer.why if answer else why, timeouts, clock), provider=self.provider
            ) from None
        except aiohttp.ServerTimeoutError:
            raise UpstreamTimeout(
                f"timeout: could not connect within {timeouts.connect:g}s", provider=self.provider
            ) from None
        except aiohttp.ClientError as e:
            raise _connection_error(self.provider, e) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


_CLIENT_TIMEOUTS: dict[float, aiohttp.ClientTimeout] = {}


def _client_timeout(connect: float) -> aiohttp.ClientTimeout:
    """aiohttp's own timeout for a request (only the connect limit: our timer does the rest),
    built once per value — building one costs ~1.3 % of a request's instructions."""
    found = _CLIENT_TIMEOUTS.get(connect)
    if found is None:
        found = _CLIENT_TIMEOUTS[connect] = aiohttp.ClientTimeout(total=None, sock_connect=connect)
    return found


def _timeout_text(why: int, timeouts: Timeouts, clock: Deadline | None) -> str:
    if why == BUDGET and clock is not None:
        return f"the request's time budget of {clock.seconds:g}s ran out"
    if why == FIRST_TOKEN and clock is not None:
        return f"no first token within {clock.first_token_seconds:g}s"
    if why == TOTAL:
        return f"no complete answer within {timeouts.total:g}s"
    if why == IDLE:
        return f"stalled: no data for {timeouts.idle:g}s"
    return f"no response within {timeouts.first_byte:g}s"


def _connection_error(provider: str, e: BaseException) -> UpstreamConnectionError:
    if isinstance(e, aiohttp.ClientConnectorError):
        reason = f"cannot connect to {e.host}:{e.port} ({e.os_error.strerror or type(e.os_error).__name__})"
    elif isinstance(e, aiohttp.ServerDisconnectedError):
        reason = "connection closed by the upstream"
    elif isinstance(e, aiohttp.ClientPayloadError):
        reason = "connection closed by the upstream before the answer was complete"
    elif isinstance(e, aiohttp.ClientResponseError):
        reason = f"bad HTTP response: {e.message}"
    else:
        reason = f"connection error ({type(e).__name__})"
    return UpstreamConnectionError(reason, provider=provider)


def retry_after_seconds(headers: Any, cap: float = 3600.0) -> float | None:
    """`Retry-After` as seconds (a number or an HTTP date), or None. Not a finite number
    (`inf`, `nan`, `1e400`): ignored. Longer than `cap` (an hour): `cap` — the router holds
    a provider that long, and one odd header must not park a model for ever."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds - seconds != 0:  # inf - inf and nan - nan are nan: not a finite number
        return None
    return min(cap, max(0.0, seconds))
