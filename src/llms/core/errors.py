"""The gateway's error tree: every failure is one of these, mapped once on the way in
(providers turn foreign errors into ours by status and type) and once on the way out
(the server's codec turns ours into OpenAI's error envelope and HTTP status).

    GatewayError                      status, type, code, param, message
    ├── ClientError                   the caller's own mistake; never retried
    │   ├── InvalidRequest            400 invalid_request_error
    │   ├── Unauthorized              401 authentication_error
    │   ├── NotFound                  404 (model_not_found, unknown path)
    │   └── PayloadTooLarge           413
    ├── UpstreamError                 one provider attempt failed
    │   ├── UpstreamConnectionError   could not connect, reset, closed early   (retryable)
    │   ├── UpstreamTimeout           connect / first byte / idle / total      (retryable)
    │   ├── UpstreamProtocolError     malformed JSON or SSE                    (retryable)
    │   └── UpstreamStatusError       an HTTP error status from the provider   (by status)
    └── AllProvidersFailed            every candidate failed: 502, 504 or 429
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error the gateway answers with."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if code is not None:
            self.code = code
        self.param = param
        self.headers = headers or {}


class ClientError(GatewayError):
    status = 400
    type = "invalid_request_error"


class InvalidRequest(ClientError):
    status = 400


class Unauthorized(ClientError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class NotFound(ClientError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ClientError):
    status = 413
    code = "payload_too_large"


class UpstreamError(GatewayError):
    """One attempt at one provider failed. `retryable` decides failover."""

    status = 502
    type = "upstream_error"
    retryable = True

    def __init__(self, message: str, *, provider: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.provider = provider
        self.retry_after: float | None = None

    def short(self) -> str:
        """One line for an aggregate message: `groq: 503 overloaded`."""
        return f"{self.provider}: {self.message}"


class UpstreamConnectionError(UpstreamError):
    code = "upstream_connection_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout"
    code = "upstream_timeout"


class UpstreamProtocolError(UpstreamError):
    code = "upstream_bad_response"


# Statuses that mean "this provider cannot serve it now; another one may".
RETRYABLE_STATUSES = frozenset({401, 403, 404, 408, 409, 429})


class UpstreamStatusError(UpstreamError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        upstream_status: int,
        upstream_type: str | None = None,
        retry_after: float | None = None,
        **kw: Any,
    ) -> None:
        client_fault = not _retryable_status(upstream_status)
        kw.setdefault("status", upstream_status if client_fault else 502)
        kw.setdefault("type", upstream_type or ("invalid_request_error" if client_fault else "upstream_error"))
        super().__init__(message, provider=provider, **kw)
        self.upstream_status = upstream_status
        self.retryable = not client_fault
        self.retry_after = retry_after

    def short(self) -> str:
        return f"{self.provider}: HTTP {self.upstream_status} {self.message}"


def _retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def is_retryable(error: BaseException) -> bool:
    """The one retry predicate: may another attempt (or another provider) succeed?"""
    return isinstance(error, UpstreamError) and error.retryable


class AllProvidersFailed(GatewayError):
    """Every candidate failed with a retryable error. Status: 429 when all were rate
    limited, 504 when all timed out, else 502."""

    type = "upstream_error"
    code = "all_providers_failed"

    def __init__(self, model: str, errors: list[UpstreamError]) -> None:
        tried = "; ".join(e.short() for e in errors) or "no provider was available"
        statuses = {getattr(e, "upstream_status", None) for e in errors}
        headers: dict[str, str] = {}
        if errors and statuses == {429}:
            status, type_, code = 429, "rate_limit_error", "rate_limit_exceeded"
            waits = [e.retry_after for e in errors if e.retry_after is not None]
            headers["Retry-After"] = str(max(1, int(min(waits)))) if waits else "1"
        elif errors and all(isinstance(e, UpstreamTimeout) for e in errors):
            status, type_, code = 504, "timeout", "upstream_timeout"
        else:
            status, type_, code = 502, "upstream_error", "all_providers_failed"
        super().__init__(
            f"All providers failed for model '{model}': {tried}",
            status=status,
            type=type_,
            code=code,
            headers=headers,
        )
        self.errors = errors
