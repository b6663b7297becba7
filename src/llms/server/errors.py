"""Errors of every route become HTTP here, in OpenAI's envelope (the `openai_chat` codec's
mapper: there is one) with the error's status; unexpected exceptions become a 500 envelope
(logged, never shown)."""

from __future__ import annotations

import logging

from aiohttp import web

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


@web.middleware
async def error_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    try:
        return await handler(request)
    except GatewayError as e:
        return error_response(e)
    except web.HTTPException as e:
        if e.status < 400 or not _is_api(request.path):
            raise
        return error_response(_from_http(e, request.path))
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(GatewayError("Internal server error", status=500, type="server_error"))


def _is_api(path: str) -> bool:
    return path.startswith(("/v1/", "/usage/")) or path in ("/v1", "/chat/completions", "/models", "/status")
