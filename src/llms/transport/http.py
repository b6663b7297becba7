"""The one upstream HTTP client: a pooled keep-alive aiohttp session per provider, with the
four LLM timeouts (connect, first byte, idle gap, total) and transport failures mapped to
the gateway's error tree. Responses are always released, also when the caller is cancelled
(a client that goes away closes the upstream connection).

What an upstream may not do to the gateway is enforced here, for every dialect at once:
redirects are never followed (a 3xx is a retryable protocol error: the target would get
the key and the prompt), a body or a stream line/event over its limit is a protocol error,
and every error leaving `open()` is scrubbed of the provider's secrets (`scrub.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from ..core.deadline import Deadline, current_deadline
from ..core.errors import UpstreamConnectionError, UpstreamError, UpstreamProtocolError, UpstreamTimeout
from ..core.outbound import AttemptHook, current_outbound
from ..core.types import MAX_UPSTREAM_BODY, Timeouts
from .codecs import MAX_EVENT, StreamTooLarge, size_text
from .scrub import Scrubber

# The longest line a streamed answer may have (an SSE event with a large base64 image fits).
MAX_LINE = MAX_EVENT
# The largest non-streamed answer body, unless `limits.upstream_body` says otherwise.
MAX_BODY = MAX_UPSTREAM_BODY
# Spent timer: `_check` fired the expiry; `_arm` must not move the deadline again.
_EXPIRED = float("-inf")
# Which limit an attempt's single timer is currently set to (for the timeout message).
FIRST_BYTE, IDLE, TOTAL, BUDGET, FIRST_TOKEN = range(5)


class BodyTooLarge(UpstreamProtocolError):
    """A non-streamed body over its limit (a protocol error like any other; its own class so
    a caller that reads for a client, like the image fetch, can say so)."""


class UpstreamResponse:
    """An upstream answer whose headers have arrived; the body is read under the attempt's
    idle and total deadlines, the request's budget and, for a stream that has not yet
    produced content, its first-token deadline.

    The timer is lazy: each chunk only moves `_due` forward; one timer handle wakes up when
    the earliest possible expiry comes, re-arms itself if data came meanwhile, and else
    expires the body: `TimeoutError` is set on the body's stream, so the wait in progress —
    or, if the reader is busy elsewhere (a stream's consumer writing to its client), the
    next one — raises it. (Rescheduling a Timeout per chunk cost ~1 µs and a timer
    allocation per chunk.) The headers are awaited under the attempt's `asyncio.Timeout`;
    the first `_arm` switches that off.

    Two earlier shapes of the expiry failed under a flood, which the tests in
    tests/security/test_upstream_limits.py reproduce: rescheduling the `asyncio.Timeout` to
    "now" runs its expiry in a `call_soon` callback; the reading task, woken by data in the
    same loop turn, ran first and `_arm` re-armed — cancelling the expiry, every turn, so a
    flood of comments or content never timed out. And the Timeout cancels the whole task,
    wherever it waits: past the commit point that was often the consumer's write to its
    client, which then saw a cancellation instead of a timeout and cut the connection
    without the in-band error. Once expired the timer stays spent (`_timer_at = _EXPIRED`)."""

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
        "_max_line",
        "_max_body",
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
        max_line: int = MAX_LINE,
        max_body: int = MAX_BODY,
    ) -> None:
        self._resp = resp
        self._max_line = max_line
        self._max_body = max_body
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

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body (for non-streamed answers), each wait bounded by the idle timeout;
        a body over `limit` bytes (default: the client's `max_body`) is a protocol error as
        soon as it is known to be."""
        if limit is None:
            limit = self._max_body
        content = self._resp.content
        length = self._resp.content_length
        if length is not None and length > limit:
            raise self._too_large(limit)
        if content.is_eof():  # usually the body came with the headers: no wait, no timer
            data = await self._resp.read()
            if len(data) > limit:
                raise self._too_large(limit)
            return data
        parts: list[bytes] = []
        size = 0
        idle = self._timeouts.idle
        try:
            while True:
                self._arm(idle)
                data = await content.readany()
                if not data:
                    return b"".join(parts)
                size += len(data)
                if size > limit:
                    raise self._too_large(limit)
                parts.append(data)
        except aiohttp.ClientError as e:
            raise _connection_error(self.provider, e) from None

    def _too_large(self, limit: int) -> UpstreamProtocolError:
        return BodyTooLarge(f"bad response: the answer is over {size_text(limit)}", provider=self.provider)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; each wait is bounded by the idle timeout. Streams are
        line-framed (SSE, NDJSON): a line over MAX_LINE bytes is a protocol error, so a
        broken upstream cannot make a decoder buffer without bound."""
        content = self._resp.content
        idle = self._timeouts.idle
        max_line = self._max_line
        line = 0  # bytes since the last newline
        try:
            while True:
                self._arm(idle)
                data = await content.readany()
                if not data:
                    return
                end = data.rfind(b"\n")
                line = len(data) - end - 1 if end >= 0 else line + len(data)
                if line > max_line:
                    raise UpstreamProtocolError(
                        f"bad response: a stream line is over {size_text(max_line)}", provider=self.provider
                    )
                yield data
        except aiohttp.ClientError as e:
            raise _connection_error(self.provider, e) from None

    def _arm(self, seconds: float) -> None:
        """Allow `seconds` from now, never past the total, the budget or (before a stream's
        first token) the first-token deadline."""
        if self._timer_at == _EXPIRED:
            return  # the body is expired: the read raises, and `why` keeps the limit that ran out
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
            self._timer_at = _EXPIRED  # spent: no later _arm may move the deadline (class docstring)
            self._resp.content.set_exception(TimeoutError())  # this read, or the next, raises it
        else:
            self._timer, self._timer_at = self._loop.call_at(self._due, self._check), self._due

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class UpstreamClient:
    """Pooled HTTP client for one provider (created lazily inside the running loop).

    `scrubber` knows the provider's secrets; `max_body` caps a non-streamed body (the
    default of `read()`), `max_event` one SSE event and one stream line. `resolver` and
    `decompress` are for clients that fetch URLs a request names (`providers/images.py`):
    a resolver that vets every address, and no automatic decompression; such a client is
    also `foreign`: it sends a URL of the client's choosing nothing of the request's
    `Outbound` (no request id, no trace context, no attempt span)."""

    def __init__(
        self,
        provider: str,
        *,
        limit: int = 0,
        scrubber: Scrubber | None = None,
        max_body: int = MAX_BODY,
        max_event: int = MAX_EVENT,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        decompress: bool = True,
        foreign: bool = False,
    ) -> None:
        self.provider = provider
        self.foreign = foreign
        self._limit = limit
        self.scrubber = scrubber or Scrubber()
        self.max_body = max_body
        self.max_event = max_event
        self._resolver = resolver
        self._decompress = decompress
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                keepalive_timeout=30,
                enable_cleanup_closed=True,
                resolver=self._resolver,
                use_dns_cache=self._resolver is None,  # a vetting resolver must see every lookup
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                auto_decompress=self._decompress,
                skip_auto_headers=("User-Agent",),
                trust_env=False,
            )
        return self._session

    def open(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        timeouts: Timeouts,
    ) -> AbstractAsyncContextManager[UpstreamResponse]:
        """Send the request and yield once the response headers are in. Timeouts raise
        `UpstreamTimeout` naming the limit that ran out; connection failures
        `UpstreamConnectionError`; a redirect or an oversized event `UpstreamProtocolError`.
        The request's `Deadline` (when the router set one) caps every wait. Every
        `UpstreamError` leaving here, also one the caller raised inside the block, is
        scrubbed of the provider's secrets. The request's `Outbound` (when the server set one)
        adds its headers (`x-request-id`, a tracer's `traceparent`) and hears how it ended."""
        hook: AttemptHook | None = None
        out = current_outbound.get()
        if out is not None and not self.foreign:
            extra, hook = out.attempt(self.provider)
            headers = {**headers, **extra}
        if hook is None:
            return self._open(method, url, body, headers, timeouts)
        return _told(hook, self._open(method, url, body, headers, timeouts))

    @asynccontextmanager
    async def _open(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeouts: Timeouts
    ) -> AsyncIterator[UpstreamResponse]:
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
                    allow_redirects=False,
                ) as resp:
                    if 300 <= resp.status < 400:
                        raise UpstreamProtocolError(
                            f"bad response: HTTP {resp.status}, a redirect (llms does not follow upstream redirects)",
                            provider=self.provider,
                        )
                    answer = UpstreamResponse(
                        resp, deadline, total_at, total_why, clock, self.provider, timeouts, loop,
                        self.max_event, self.max_body,
                    )  # fmt: skip
                    answer.why = why
                    try:
                        yield answer
                    finally:
                        answer.stop()
        except UpstreamError as e:
            raise self.scrubber.error(e)  # noqa: B904 (the caller's own error, kept as raised)
        except StreamTooLarge as e:
            raise UpstreamProtocolError(f"bad response: {e}", provider=self.provider) from None
        except TimeoutError:
            raise UpstreamTimeout(
                "timeout: " + _timeout_text(answer.why if answer else why, timeouts, clock), provider=self.provider
            ) from None
        except aiohttp.ServerTimeoutError:
            raise UpstreamTimeout(
                f"timeout: could not connect within {timeouts.connect:g}s", provider=self.provider
            ) from None
        except aiohttp.ClientError as e:
            raise self.scrubber.error(_connection_error(self.provider, e)) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@asynccontextmanager
async def _told(
    hook: AttemptHook, opening: AbstractAsyncContextManager[UpstreamResponse]
) -> AsyncIterator[UpstreamResponse]:
    """`opening`, telling `hook` how it ended (its status, and what error left it, if any)."""
    status: int | None = None
    try:
        async with opening as answer:
            status = answer.status
            yield answer
    except BaseException as e:
        hook.end(status, e)
        raise
    hook.end(status, None)


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
