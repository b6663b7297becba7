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

from ..core.errors import UpstreamConnectionError, UpstreamTimeout
from ..core.types import Timeouts


class UpstreamResponse:
    """An upstream answer whose headers have arrived; the body is read under the
    attempt's idle and total deadlines."""

    __slots__ = ("_resp", "_deadline", "_total_at", "_provider", "_timeouts", "status", "headers")

    def __init__(
        self,
        resp: aiohttp.ClientResponse,
        deadline: asyncio.Timeout,
        total_at: float,
        provider: str,
        timeouts: Timeouts,
    ) -> None:
        self._resp = resp
        self._deadline = deadline
        self._total_at = total_at
        self._provider = provider
        self._timeouts = timeouts
        self.status = resp.status
        self.headers = resp.headers

    async def read(self) -> bytes:
        """The whole body (for non-streamed answers)."""
        self._arm(self._timeouts.idle)
        try:
            return await self._resp.read()
        except aiohttp.ClientError as e:
            raise _connection_error(self._provider, e) from None

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; each wait is bounded by the idle timeout."""
        content = self._resp.content
        idle = self._timeouts.idle
        try:
            while True:
                self._arm(idle)
                data = await content.readany()
                if not data:
                    return
                yield data
        except aiohttp.ClientError as e:
            raise _connection_error(self._provider, e) from None

    def _arm(self, seconds: float) -> None:
        """Move the attempt's deadline to `seconds` from now, never past the total."""
        self._deadline.reschedule(min(asyncio.get_running_loop().time() + seconds, self._total_at))


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
        `UpstreamTimeout` naming the phase; connection failures `UpstreamConnectionError`."""
        session = self._get_session()
        loop = asyncio.get_running_loop()
        start = loop.time()
        total_at = start + timeouts.total
        phase = "waiting for the first byte"
        try:
            async with asyncio.timeout_at(min(total_at, start + timeouts.first_byte)) as deadline:
                async with session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect),
                ) as resp:
                    phase = "between chunks"
                    yield UpstreamResponse(resp, deadline, total_at, self.provider, timeouts)
        except TimeoutError:
            elapsed = loop.time() - start
            if elapsed >= timeouts.total - 0.001:
                what = f"no complete answer within {timeouts.total:g}s"
            elif phase == "between chunks":
                what = f"stalled: no data for {timeouts.idle:g}s"
            else:
                what = f"no response within {timeouts.first_byte:g}s"
            raise UpstreamTimeout(f"timeout: {what}", provider=self.provider) from None
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


def retry_after_seconds(headers: Any) -> float | None:
    """`Retry-After` as seconds (a number or an HTTP date), or None."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
