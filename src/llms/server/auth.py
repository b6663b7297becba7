"""Client keys at the HTTP edge: who is asking (`Authorization: Bearer …` or `x-api-key`),
whether they may (`auth.required`, the key's models, its limits) and how a refusal reads in
OpenAI's words:

    missing / wrong / revoked / expired key  401 authentication_error  invalid_api_key
    a model the key may not use              403 permission_error      model_not_allowed
    over its RPM or TPM                      429 requests|tokens       rate_limit_exceeded  (+ Retry-After)
    its budget spent                         429 insufficient_quota    insufficient_quota   (+ Retry-After)
    Redis down with `limits.fail_closed`     503 server_error          limits_unavailable

The key table and the limiter are services `app` injects (the server may not import
`llms.keys`): `find(text)` returns the key or None, a key has `name`, `id` and `allows(model)`.
With `auth.required` off (the laptop default) a request without a key is served as today; one
that presents a key of ours (`sk-llms-…`) is checked and counted all the same, and any other
bearer (an SDK's placeholder) is ignored. The admin key (`auth.admin_key`) guards `/admin/*`,
`/usage/*` and the details of `/status` whenever one is set or auth is required."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from ..core.errors import GatewayError, Unauthorized

OURS = "sk-llms-"


class Identity(Protocol):
    """What the server needs of a client key."""

    id: str
    name: str

    def allows(self, model: str) -> bool: ...


def presented_key(request: web.Request) -> str | None:
    """The key a client sent: `Authorization: Bearer KEY` (OpenAI) or `x-api-key: KEY` (Anthropic)."""
    headers = request.headers
    value = headers.get("Authorization")
    if value is not None:
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    value = headers.get("x-api-key")
    return value.strip() if value and value.strip() else None


def invalid_key(message: str = "Incorrect API key provided.") -> GatewayError:
    return Unauthorized(
        message + " Ask the gateway's administrator for a key (`llms keys create`); send it as "
        "`Authorization: Bearer sk-llms-…`."
    )


def model_not_allowed(model: str, key_name: str) -> GatewayError:
    return GatewayError(
        f"The key '{key_name}' may not use the model '{model}'.",
        status=403, type="permission_error", code="model_not_allowed", param="model",
    )  # fmt: skip


def limit_error(refusal: str, headers: dict[str, str], key_name: str) -> GatewayError:
    """A limiter's refusal as the error the client gets (with its x-ratelimit-* and Retry-After)."""
    if refusal == "revoked":
        return invalid_key("This API key has been revoked.")
    if refusal == "insufficient_quota":
        return GatewayError(
            f"The key '{key_name}' has spent its budget for this period.",
            status=429, type="insufficient_quota", code="insufficient_quota", headers=headers,
        )  # fmt: skip
    if refusal == "limits_unavailable":
        return GatewayError(
            "Rate limits cannot be checked right now (the limits store is unreachable); try again shortly.",
            status=503, type="server_error", code="limits_unavailable", headers={"retry-after": "1"},
        )  # fmt: skip
    what = "tokens" if refusal == "rate_limit_tokens" else "requests"
    return GatewayError(
        f"Rate limit reached for key '{key_name}': {what} per minute. Retry after "
        f"{headers.get('retry-after', '60')} s.",
        status=429, type=what, code="rate_limit_exceeded", headers=headers,
    )  # fmt: skip


class ClientAuth:
    """Resolves the caller of one request. `find` is the key table's lookup."""

    def __init__(self, find: Callable[[str], Any] | None, required: bool, admin_key: str | None) -> None:
        self.find = find
        self.required = required
        self.admin_key = admin_key

    @property
    def admin_guarded(self) -> bool:
        return self.required or self.admin_key is not None

    def identify(self, request: web.Request) -> Identity | None:
        """The request's key, None when anonymous use is allowed; raises 401 otherwise."""
        text = presented_key(request)
        if text is None:
            if self.required:
                raise invalid_key("You didn't provide an API key.")
            return None
        if not self.required and not text.startswith(OURS):
            return None  # e.g. the OpenAI SDK's placeholder key on a laptop
        key = self.find(text) if self.find is not None else None
        if key is None:
            raise invalid_key()
        return key

    def is_admin(self, request: web.Request) -> bool:
        """The request carries the admin key (compared in constant time); open when unguarded."""
        if not self.admin_guarded:
            return True
        text = presented_key(request)
        if self.admin_key is None or text is None:
            return False
        return hmac.compare_digest(text.encode(), self.admin_key.encode())

    def require_admin(self, request: web.Request) -> None:
        if self.is_admin(request):
            return
        if self.admin_key is None:
            raise GatewayError(
                "The admin API is off: set `auth.admin_key` in llms.json (e.g. \"$LLMS_ADMIN_KEY\").",
                status=403, type="permission_error", code="admin_disabled",
            )  # fmt: skip
        raise invalid_key("This endpoint needs the admin key.")


# -- the request path: who, which model, within which limits ------------------------------------

DEFAULT_OUTPUT_TOKENS = 1024  # the estimate's answer length when the request sets no max_tokens
BYTES_PER_TOKEN = 4  # a rough prompt size from the body's length: the estimate is settled later


class Limiter(Protocol):
    """What the server needs of `llms.keys`'s limiter (injected by `app`)."""

    async def admit(self, key: Any, estimate: float = 0.0) -> Any: ...

    def settle(self, decision: Any, tokens: int | None, cost: float | None) -> None: ...

    def status(self) -> dict[str, Any]: ...


class AdminIdentity:
    """The admin key used as a client key (the UI's analytics and chat with one key): every
    model, no limits, `admin` in the ledger."""

    id = "admin"
    name = "admin"

    def allows(self, model: str) -> bool:
        return True


ADMIN = AdminIdentity()


def _prices(pricing: str | None, cache: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """llms.json's per-token `"input/output"` price (0, 0 when unknown or unreadable)."""
    if not pricing:
        return 0.0, 0.0
    found = cache.get(pricing)
    if found is None:
        try:
            inp, out = pricing.split("/")
            found = (float(inp), float(out))
        except ValueError:
            found = (0.0, 0.0)
        cache[pricing] = found
    return found


class Gate:
    """The client-key checks of one request, in order: `identify` (from the head, before the
    body is read), then `admit` (after the codec: the model and a cost estimate are known).
    `price(model)` gives the first candidate's pricing, for the estimate."""

    def __init__(
        self, auth: ClientAuth, limiter: Limiter | None, price: Callable[[str], str | None] = lambda model: None
    ) -> None:
        self.auth = auth
        self.limiter = limiter
        self.price = price
        self._prices: dict[str, tuple[float, float]] = {}

    def identify(self, request: web.Request) -> Identity | None:
        auth = self.auth
        if auth.admin_key is not None and auth.is_admin(request):
            return ADMIN
        return auth.identify(request)

    def estimate(self, model: str, body: dict[str, Any], size: int | None) -> float:
        """USD to reserve before the call: the body's length as prompt tokens, and `max_tokens`
        (or DEFAULT_OUTPUT_TOKENS) as the answer, at the model's price."""
        inp, out = _prices(self.price(model), self._prices)
        if not inp and not out:
            return 0.0
        answer = body.get("max_completion_tokens") or body.get("max_tokens")
        if not isinstance(answer, int) or isinstance(answer, bool) or answer <= 0:
            answer = DEFAULT_OUTPUT_TOKENS
        return (size or 0) / BYTES_PER_TOKEN * inp + answer * out

    async def admit(self, key: Identity, model: str, body: dict[str, Any], size: int | None) -> Any:
        """403 for a model the key may not use; 429/503 when its limits refuse; else the
        limiter's decision (its `headers` go on the answer, `settle` takes it at the end)."""
        if not key.allows(model):
            raise model_not_allowed(model, key.name)
        if self.limiter is None or key is ADMIN:
            return None
        decision = await self.limiter.admit(key, self.estimate(model, body, size))
        if decision.refusal is not None:
            raise limit_error(decision.refusal, decision.headers, key.name)
        return decision
