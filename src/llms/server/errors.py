"""The one place the gateway's errors become HTTP: OpenAI's error envelope (the `openai_chat`
codec's mapper: there is one) with the error's status, for every route; unexpected exceptions
become a 500 envelope (logged, never shown).

The same middleware runs the edge guard first (Host and Origin, `guards.py`: before any body
is read). One middleware, not two: aiohttp wraps every middleware in a partial per request,
which is measurable."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..core.errors import GatewayError, NotFound
from .openai_chat import error_response

log = logging.getLogger("llms.server")


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


def _bad_body(exc: Exception) -> GatewayError:
    """A request body aiohttp could not decode (bad gzip/deflate/br, broken chunking)."""
    cause = exc.__cause__ or exc.__context__ or exc
    reason = str(getattr(cause, "message", "") or cause).splitlines()[0][:200] if str(cause) else type(cause).__name__
    return GatewayError(
        f"Request body could not be read: {reason}", status=400, type="invalid_request_error", code="bad_request_body"
    )


def make_error_middleware(guard: Guard | None = None):  # type: ignore[no-untyped-def]
    """The middleware: `guard(request)` first (it raises a `GatewayError` or answers a
    preflight), then the handler."""

    @web.middleware
    async def error_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
        try:
            if guard is not None and (early := guard(request)) is not None:
                return early
            response = await handler(request)
        except GatewayError as e:
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
        return response

    return error_middleware


error_middleware = make_error_middleware()


def _is_api(path: str) -> bool:
    return path.startswith(("/v1/", "/usage/")) or path in ("/v1", "/chat/completions", "/models", "/status")
