"""The connection level, below the app: what aiohttp answers by itself before a request ever
reaches a route.

- A request aiohttp's parser rejects (`BadHttpMessage`, `LineTooLong`, a bad method, …)
  gets OpenAI's error envelope as JSON instead of aiohttp's plain text with its traceback
  logged at ERROR; one INFO line says what was wrong.
- A request head must be complete within `header_timeout` seconds of the connection opening
  or of the head's first byte (slowloris: one byte every few seconds held a connection open
  for aiohttp's whole keep-alive time, an hour). Idle keep-alive connections between
  requests keep aiohttp's own timeout.
- A large non-streamed answer must be taken by the client within `write_timeout` seconds
  (aiohttp waits for the socket to drain forever); then the connection is reset. Here, after
  every middleware, so headers they add are still sent.

The timeouts are read from the runtime in force (`Current`) at use, so a reload changes them.

aiohttp has no public hook for either, so `EdgeRunner` builds the app's server as usual and
makes its connections `EdgeRequestHandler`s (a subclass; the private attributes it reads are
named where they are used). tests/security/test_http_edge.py pins the behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Coroutine
from typing import Any

import orjson
from aiohttp import web, web_response
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ..core.errors import GatewayError
from .guards import SERVER
from .openai_chat import envelope

log = logging.getLogger("llms.server")


def _envelope_bytes(error: GatewayError) -> bytes:
    return orjson.dumps(envelope(error))


# A body up to asyncio's write buffer high-water mark never waits for the client to read.
UNBLOCKED_WRITE = 64 * 1024
_data_received = RequestHandler.data_received
_finish_response = RequestHandler.finish_response


class EdgeRequestHandler(RequestHandler):
    """aiohttp's connection protocol with the envelope for parser errors and the timeouts.
    Per request it notes when a head starts (one clock read); `EdgeServer` sweeps its
    connections once a second for heads that took too long (no timer per request)."""

    # Slots like aiohttp's own, and its methods called directly rather than through super():
    # data_received runs for every packet, and each attribute or super() lookup is measurable.
    __slots__ = ("current", "_head_since", "_head_count")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current: Any = None  # `runtime.Current`: its runtime's header_timeout, write_timeout
        self._head_since: float | None = None  # when the head in progress started (None: none is)
        self._head_count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._head_since, self._head_count = self._loop.time(), self._request_count

    def data_received(self, data: bytes) -> None:
        # A new request head starts when nothing is queued or running (aiohttp's `_messages`,
        # `_request_in_progress`); body bytes arrive while the handler runs and start nothing.
        if self._head_since is None:
            if not self._request_in_progress and not self._messages:
                self._head_since, self._head_count = self._loop.time(), self._request_count
        _data_received(self, data)
        if self._head_since is not None and self._request_count != self._head_count:
            self._head_since = None  # aiohttp parsed the head: the handler's body timeout takes over

    def check_head(self, now: float, timeout: float) -> None:
        since = self._head_since
        if since is not None and now - since >= timeout and self._request_count == self._head_count:
            self._head_since = None
            if not self._force_close and self.transport is not None:
                self._head_expired(timeout)

    def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> Coroutine[Any, Any, tuple[web.StreamResponse, bool]]:
        """aiohttp awaits what this returns: a plain answer goes straight to aiohttp's own send
        (no extra coroutine on the hot path); a large one is sent under the write timeout."""
        if type(resp) is web.Response:
            body = resp._body  # the bytes as given (the `body` property may wrap them)
            if type(body) is bytes and len(body) > UNBLOCKED_WRITE and self.current is not None:
                return self._finish_within(request, resp, start_time, self.current.runtime.write_timeout)
        return _finish_response(self, request, resp, start_time)

    async def _finish_within(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None, timeout: float
    ) -> tuple[web.StreamResponse, bool]:
        try:
            async with asyncio.timeout(timeout):
                return await super().finish_response(request, resp, start_time)
        except TimeoutError:
            log.info("%s %s: client read nothing for %gs, cut off", request.method, request.path, timeout)
            self._reset()
            return resp, True

    def _reset(self) -> None:
        """Drop the connection with a reset: a plain close would leave megabytes queued in the
        kernel for a client that never reads (SO_LINGER 0 discards them at once)."""
        transport = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        self.force_close()

    def _head_expired(self, timeout: float) -> None:
        assert self.transport is not None
        log.info("closed a connection whose request head took over %gs", timeout)
        error = GatewayError(
            f"Request head not received within {timeout:g} s",
            status=408,
            type="invalid_request_error",
            code="request_timeout",
        )
        body = _envelope_bytes(error)
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Server: {SERVER}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.force_close()

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """A body that failed to decode (bad gzip, broken chunking) already got its 400 from the
        app; aiohttp meets the same error again while draining the body: one INFO line, no
        traceback at ERROR."""
        exc = kw.get("exc_info")
        if isinstance(exc, BaseException) and _is_bad_input(exc):
            log.info("bad request body from %s: %s", _peer(self), _first_line(exc))
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """aiohttp's last resort (parser errors, an exception no middleware caught) as an envelope."""
        if request.writer.output_size > 0:  # as aiohttp: a response already started cannot be replaced
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
            error = GatewayError("Internal server error", status=status, type="server_error")
        else:
            reason = (message or (str(exc) if exc else "") or "bad request").splitlines()[0][:200]
            log.info("bad HTTP request from %s: %s: %s", request.remote, type(exc).__name__, reason)
            error = GatewayError(
                f"Malformed HTTP request: {reason}", status=status, type="invalid_request_error", code="bad_request"
            )
        response = web.Response(
            status=status, body=_envelope_bytes(error), content_type="application/json", headers={"Server": SERVER}
        )
        response.force_close()
        return response


def _is_bad_input(exc: BaseException) -> bool:
    return isinstance(exc, HttpProcessingError) or isinstance(exc.__cause__, HttpProcessingError)


def _first_line(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc.__cause__, HttpProcessingError) else exc
    text = str(getattr(cause, "message", "") or cause).strip()
    return (text.splitlines()[0] if text else type(cause).__name__)[:200]


def _peer(handler: RequestHandler) -> str:
    peer = handler.transport.get_extra_info("peername") if handler.transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) else "-"


class EdgeServer(web.Server):
    current: Any = None
    _sweeper: asyncio.TimerHandle | None = None

    def __call__(self) -> RequestHandler:
        handler = EdgeRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.current = self.current
        if self._sweeper is None:
            self._sweep()
        return handler

    def _sweep(self) -> None:
        """Once a second (at most a quarter of the timeout): close connections whose request
        head is overdue."""
        timeout = self.current.runtime.header_timeout if self.current is not None else 0
        if timeout > 0:
            now = self._loop.time()
            for handler in self.connections:
                if isinstance(handler, EdgeRequestHandler):
                    handler.check_head(now, timeout)
        self._sweeper = self._loop.call_later(min(1.0, max(0.1, (timeout or 4) / 4)), self._sweep)

    def pre_shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        super().pre_shutdown()


class EdgeRunner(web.AppRunner):
    """`web.AppRunner` whose connections are `EdgeRequestHandler`s reading `current`."""

    def __init__(self, app: web.Application, *, current: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.current = current

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = EdgeServer  # the app's server as built by aiohttp, with our protocol factory
        server.current = self.current  # type: ignore[attr-defined]
        # The Server header: aiohttp fills in its module's SERVER_SOFTWARE (with the Python and
        # aiohttp versions) when a response has none; naming ours there costs nothing per answer.
        web_response.SERVER_SOFTWARE = SERVER
        return server
