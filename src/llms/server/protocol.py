"""The connection level, below the app: what aiohttp answers by itself before a request ever
reaches a route.

- A request aiohttp's parser rejects (`BadHttpMessage`, `LineTooLong`, a bad method, …)
  gets OpenAI's error envelope as JSON instead of aiohttp's plain text with its traceback
  logged at ERROR; one INFO line says what was wrong.
- A request head must be complete within `header_timeout` seconds of the connection opening
  or of the head's first byte (slowloris: one byte every few seconds held a connection open
  for aiohttp's whole keep-alive time, an hour). Idle keep-alive connections between
  requests keep aiohttp's own timeout.

aiohttp has no public hook for either, so `EdgeRunner` builds the app's server as usual and
makes its connections `EdgeRequestHandler`s (a subclass; the private attributes it reads are
named where they are used). tests/security/test_http_edge.py pins the behaviour.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ..core.errors import GatewayError
from .guards import SERVER

log = logging.getLogger("llms.server")


def _envelope_bytes(error: GatewayError) -> bytes:
    return orjson.dumps(error.envelope())


class EdgeRequestHandler(RequestHandler):
    """aiohttp's connection protocol with the envelope for parser errors and a head timeout."""

    header_timeout: float = 15.0
    _head_timer: asyncio.TimerHandle | None = None
    _head_count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head()

    def data_received(self, data: bytes) -> None:
        # A new request head starts when nothing is queued or running (aiohttp's `_messages`,
        # `_request_in_progress`); body bytes arrive while the handler runs and arm nothing.
        if self._head_timer is None and not self._request_in_progress and not self._messages:
            self._arm_head()
        super().data_received(data)
        if self._head_timer is not None and self._request_count != self._head_count:
            self._head_timer.cancel()  # the head is complete: the handler's body timeout takes over
            self._head_timer = None

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _arm_head(self) -> None:
        if self.header_timeout > 0 and self.transport is not None:
            self._head_count = self._request_count  # aiohttp counts the heads it parsed
            self._head_timer = self._loop.call_later(self.header_timeout, self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._request_count != self._head_count or self._force_close or self.transport is None:
            return
        log.info("closed a connection whose request head took over %gs", self.header_timeout)
        error = GatewayError(
            f"Request head not received within {self.header_timeout:g} s",
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
    header_timeout: float = 15.0

    def __call__(self) -> RequestHandler:
        handler = EdgeRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.header_timeout = self.header_timeout
        return handler


class EdgeRunner(web.AppRunner):
    """`web.AppRunner` whose connections are `EdgeRequestHandler`s."""

    def __init__(self, app: web.Application, *, header_timeout: float = 15.0, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = EdgeServer  # the app's server as built by aiohttp, with our protocol factory
        server.header_timeout = self.header_timeout  # type: ignore[attr-defined]
        return server
