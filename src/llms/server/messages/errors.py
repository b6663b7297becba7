"""The gateway's errors in Anthropic's envelope, `{"type": "error", "error": {"type", "message"}}`,
with the statuses Anthropic's SDKs map to their exception classes. Every upstream overloaded
(503/529) reads as `overloaded_error` 529, as Anthropic itself would say it."""

from __future__ import annotations

from typing import Any

import orjson

from ...core.errors import GatewayError

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
OVERLOADED = frozenset({503, 529})


def status_and_type(error: GatewayError) -> tuple[int, str]:
    """The HTTP status and Anthropic error type a client of the Messages API should see."""
    upstream = [getattr(e, "upstream_status", None) for e in getattr(error, "errors", ())]
    own = getattr(error, "upstream_status", None)
    if (upstream and all(s in OVERLOADED for s in upstream)) or own == 529:
        return 529, "overloaded_error"
    status = error.status
    if status in ERROR_TYPES:
        return status, ERROR_TYPES[status]
    return status, "invalid_request_error" if status < 500 else "api_error"


def envelope(error: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    _, type_ = status_and_type(error)
    out: dict[str, Any] = {"type": "error", "error": {"type": type_, "message": error.message}}
    if request_id:
        out["request_id"] = request_id
    return out


def error_body(error: GatewayError, request_id: str | None = None) -> tuple[int, bytes]:
    """(status, JSON body) of an error answered before a stream started."""
    status, _ = status_and_type(error)
    return status, orjson.dumps(envelope(error, request_id))


def error_event(error: GatewayError) -> bytes:
    """The in-band `error` event of a stream that fails after its first event."""
    return b"event: error\ndata: " + orjson.dumps(envelope(error)) + b"\n\n"
