"""The one place the gateway's errors become HTTP: OpenAI's error envelope with the error's
status, for every route; unexpected exceptions become a 500 envelope (logged, never shown).

The same middleware runs the edge guard first (Host and Origin, `guards.py`: before any body
is read) and sends large non-streamed answers under the write timeout. One middleware, not
three: aiohttp wraps every middleware in a partial per request, which is measurable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..core.errors import GatewayError, NotFound

log = logging.getLogger("llms.server")


def error_response(error: GatewayError) -> web.Response:
    return web.Response(
        status=error.status,
        body=orjson.dumps(error.envelope()),
        content_type="application/json",
        headers=error.headers,
    )


def _from_http(exc: web.HTTPException, path: str) -> GatewayError:
    if exc.status == 404:
        return NotFound(f"Unknown path: {path}. See GET /v1/models and POST /v1/chat/completions.")
    if exc.status == 405:
        return GatewayError(
            f"Method not allowed for {path}", status=405, type="invalid_request_error", code="method_not_allowed"
        )
    if exc.status == 413:
        return GatewayError(
            "Request body too large", status=413, type="invalid_request_error", code="payload_too_large"
        )
    return GatewayError(exc.reason or "HTTP error", status=exc.status, type="invalid_request_error")


Guard = Callable[[web.Request], web.StreamResponse | None]
# A body up to asyncio's write buffer high-water mark never waits for the client to read.
UNBLOCKED_WRITE = 64 * 1024


def _bad_body(exc: Exception) -> GatewayError:
    """A request body aiohttp could not decode (bad gzip/deflate/br, broken chunking)."""
    cause = exc.__cause__ or exc.__context__ or exc
    reason = str(getattr(cause, "message", "") or cause).splitlines()[0][:200] if str(cause) else type(cause).__name__
    return GatewayError(
        f"Request body could not be read: {reason}", status=400, type="invalid_request_error", code="bad_request_body"
    )


def make_error_middleware(guard: Guard | None = None, write_timeout: Callable[[], float] | None = None):  # type: ignore[no-untyped-def]
    """The middleware: `guard(request)` first (it raises a `GatewayError` or answers a
    preflight), then the handler; `write_timeout()` bounds sending a large plain answer."""

    @web.middleware
    async def error_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
        try:
            if guard is not None and (early := guard(request)) is not None:
                return early
            response = await handler(request)
        except GatewayError as e:
            request["llms.error"] = e
            return error_response(e)
        except web.HTTPException as e:
            if e.status < 400 or not _is_api(request.path):
                raise
            return error_response(_from_http(e, request.path))
        except HttpProcessingError as e:  # the body failed to decode while the handler read it
            return error_response(_bad_body(e))
        except Exception as e:
            if isinstance(e.__cause__, HttpProcessingError):  # aiohttp's RequestPayloadError wraps it
                return error_response(_bad_body(e))
            log.exception("unexpected error on %s %s", request.method, request.path)
            return error_response(GatewayError("Internal server error", status=500, type="server_error"))
        if write_timeout is not None and type(response) is web.Response:
            body = response.body
            if isinstance(body, bytes) and len(body) > UNBLOCKED_WRITE:
                await _send_within(request, response, write_timeout())
        return response

    return error_middleware


async def _send_within(request: web.Request, response: web.Response, timeout: float) -> None:
    """Send a large answer now, bounded: a client that reads nothing for `timeout` seconds is
    cut off (aiohttp would wait for the socket to drain forever). aiohttp's own send after
    the handler then finds the answer sent, or the connection closed."""
    try:
        async with asyncio.timeout(timeout):
            await response.prepare(request)
            await response.write_eof()
    except TimeoutError:
        log.info("%s %s: client read nothing for %gs, cut off", request.method, request.path, timeout)
        _reset(request)
    except ConnectionError:
        pass


def _reset(request: web.Request) -> None:
    """Drop the connection with a reset: a plain close would leave megabytes queued in the
    kernel for a client that never reads (SO_LINGER 0 discards them at once)."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


error_middleware = make_error_middleware()


def _is_api(path: str) -> bool:
    return path.startswith("/v1/") or path in ("/v1", "/chat/completions", "/models", "/status")
