"""A lane is one (model alias, provider) pair the router may try: the provider, its shared
state (provider-wide breaker, requests in flight, concurrency cap, retry policy) and the
provider+model breaker. `admit()` decides whether an attempt may start; the `succeeded`,
`failed`, `released` and `leave` calls report how it went.

What trips which breaker: connection failures (the host is down or resets) count against
the provider and the provider+model; timeouts, 5xx, 429, 404 and malformed answers against
the provider+model only (one overloaded model should not take its siblings down). 401 (bad
key) disables the provider, 403 (no access) the provider+model, until the config changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import GatewayError, UpstreamConnectionError, UpstreamError, UpstreamStatusError
from ..providers import Provider
from .breaker import Breaker, BreakerPolicy
from .retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class ProviderPolicy:
    """Per provider: retries, breaker and the optional cap on requests in flight (0: none)."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    concurrency: int = 0


class ProviderState:
    """Runtime state shared by all lanes of one provider (one per router table)."""

    __slots__ = ("provider", "policy", "retry", "breaker", "inflight", "cap", "model_breakers")

    def __init__(self, provider: Provider, policy: ProviderPolicy) -> None:
        self.provider = provider
        self.policy = policy
        self.retry = policy.retry
        self.breaker = Breaker(provider.name, policy.breaker) if policy.breaker.enabled else None
        self.inflight = 0
        self.cap = policy.concurrency
        self.model_breakers: dict[str, Breaker] = {}

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inflight": self.inflight}
        if self.cap:
            out["concurrency"] = self.cap
        if self.breaker is not None:
            out["breaker"] = self.breaker.status()
            models = {a: b.status() for a, b in self.model_breakers.items() if b.state != "closed" or b.consecutive}
            if models:
                out["model_breakers"] = models
        return out


class Skip:
    """Why a lane was not tried (not an attempt): saturated (at its concurrency cap, or held
    by a 429's Retry-After), or a breaker said no."""

    __slots__ = ("provider", "reason", "saturated", "wait")

    def __init__(self, provider: str, reason: str, saturated: bool, wait: float | None) -> None:
        self.provider, self.reason, self.saturated, self.wait = provider, reason, saturated, wait

    @classmethod
    def breaker(cls, provider: str, breaker: Breaker) -> Skip:
        return cls(provider, breaker.refusal(), breaker.limited, breaker.wait())

    def short(self) -> str:
        return f"{self.provider}: skipped, {self.reason}"


class Unavailable(GatewayError):
    """Every candidate was skipped before any attempt: 429 when all were at their concurrency
    cap or rate-limited, else 503 — at once, with `Retry-After` when one will take requests
    again."""

    def __init__(self, model: str, skipped: list[Skip]) -> None:
        saturated = all(s.saturated for s in skipped)
        waits = [s.wait for s in skipped if s.wait is not None]
        headers = {"Retry-After": str(max(1, math.ceil(min(waits))))} if waits else {}
        detail = "; ".join(s.short() for s in skipped)
        if saturated:
            super().__init__(
                f"Every provider for model '{model}' is busy or rate-limited: {detail}",
                status=429,
                type="rate_limit_error",
                code="rate_limit_exceeded",
                headers=headers,
            )
        else:
            super().__init__(
                f"No provider is available for model '{model}': {detail}",
                status=503,
                type="upstream_error",
                code="providers_unavailable",
                headers=headers,
            )


class Lane:
    __slots__ = ("provider", "state", "breaker")

    def __init__(self, state: ProviderState, alias: str) -> None:
        self.provider = state.provider
        self.state = state
        self.breaker: Breaker | None = None
        if state.breaker is not None:
            self.breaker = Breaker(f"{state.provider.name}/{alias}", state.policy.breaker)
            state.model_breakers[alias] = self.breaker

    def admit(self) -> Skip | None:
        """None when the attempt may start (and is now counted in flight), else why not."""
        st = self.state
        if st.cap and st.inflight >= st.cap:
            return Skip(self.provider.name, f"at its concurrency limit of {st.cap}", True, 1.0)
        pb, mb = st.breaker, self.breaker
        if pb is not None and not pb.allow():
            return Skip.breaker(self.provider.name, pb)
        if mb is not None and not mb.allow():
            if pb is not None:
                pb.release()
            return Skip.breaker(self.provider.name, mb)
        st.inflight += 1
        return None

    def leave(self) -> None:
        """The attempt no longer holds a slot (its answer or stream is over)."""
        self.state.inflight -= 1

    def served(self) -> None:
        """A non-streamed attempt answered: `leave()` and `succeeded()` in one call."""
        self.state.inflight -= 1
        if self.breaker is not None:
            self.breaker.success()
            self.state.breaker.success()  # type: ignore[union-attr]

    def succeeded(self) -> None:
        if self.breaker is not None:
            self.breaker.success()
            self.state.breaker.success()  # type: ignore[union-attr]

    def released(self) -> None:
        if self.breaker is not None:
            self.breaker.release()
            self.state.breaker.release()  # type: ignore[union-attr]

    def failed(self, error: UpstreamError) -> None:
        mb, pb = self.breaker, self.state.breaker
        if mb is None or pb is None:
            return
        if not error.retryable:  # the caller's own mistake: the provider is fine
            mb.success()
            pb.success()
            return
        status = getattr(error, "upstream_status", None)
        reason = error.short()
        if status == 401:
            pb.disable(reason)
            mb.release()
            return
        if status == 403:
            mb.disable(reason)
            pb.release()
            return
        limited = status == 429
        mb.failure(reason, limited=limited)
        if isinstance(error, UpstreamConnectionError):
            pb.failure(reason)
        else:
            pb.release()
        if isinstance(error, UpstreamStatusError) and error.retry_after:
            mb.hold(error.retry_after, reason, limited=limited)
