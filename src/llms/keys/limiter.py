"""Admission by a key's limits on one process: requests per minute, tokens per minute and a
budget per period (windows: `periods.py`).

`check` is synchronous and has no await between reading a counter and raising it, so on one
event loop no interleaving of concurrent requests can over-admit: 200 requests at once
against rpm 50 admit exactly 50. What is counted when:
- requests: at admission;
- tokens: the real tokens, when the call has ended (`settle`); a key already at its TPM this
  minute is refused until the window turns;
- budget: an estimate is *reserved* at admission (a request is admitted while spent + reserved
  is below the budget), and at the end the reservation is released and the real cost from the
  record is added (`settle`). Spend starts from the ledger when the process starts (`seed`).

`Decision` carries OpenAI's `x-ratelimit-*` headers for every answer and what `settle` needs."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

from .periods import current_period, minute, period_id, reset_text, window_reset
from .record import ClientKey

Refusal = Literal["rate_limit_requests", "rate_limit_tokens", "insufficient_quota", "revoked", "limits_unavailable"]


@dataclass(slots=True)
class Decision:
    """`refusal` None: admitted. `retry_after` (seconds) for a refusal; `headers` for every
    answer; `reserved`/`period` for `settle`; `shared` when Redis decided it."""

    refusal: Refusal | None = None
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    key_id: str = ""
    period: str | None = None
    reserved: float = 0.0
    shared: bool = False

    @property
    def allowed(self) -> bool:
        return self.refusal is None


ADMITTED_FREELY = Decision()  # a key without limits: nothing to count, nothing to settle


def has_limits(key: ClientKey) -> bool:
    return key.rpm is not None or key.tpm is not None or key.budget is not None


def rate_headers(key: ClientKey, requests: int, tokens: int, now: float) -> dict[str, str]:
    """OpenAI's headers for the key's RPM/TPM (only the limits the key has)."""
    h: dict[str, str] = {}
    if key.rpm is None and key.tpm is None:
        return h
    reset = reset_text(window_reset(now))
    if key.rpm is not None:
        h["x-ratelimit-limit-requests"] = str(key.rpm)
        h["x-ratelimit-remaining-requests"] = str(max(0, key.rpm - requests))
        h["x-ratelimit-reset-requests"] = reset
    if key.tpm is not None:
        h["x-ratelimit-limit-tokens"] = str(key.tpm)
        h["x-ratelimit-remaining-tokens"] = str(max(0, key.tpm - tokens))
        h["x-ratelimit-reset-tokens"] = reset
    return h


def refuse(key: ClientKey, refusal: Refusal, requests: int, tokens: int, now: float) -> Decision:
    """A refusal with its Retry-After: the rate window's end, or the budget period's end."""
    if refusal == "insufficient_quota" and key.period is not None:
        wait = current_period(key.period, now)[1] - now
    else:
        wait = window_reset(now)
    headers = rate_headers(key, requests, tokens, now)
    headers["retry-after"] = str(max(1, math.ceil(wait)))
    return Decision(refusal, wait, headers, key.id)


class LocalLimiter:
    """The counters of one process (also Redis's per-process fallback)."""

    def __init__(self) -> None:
        self._requests: dict[str, tuple[int, int]] = {}  # key id → (window, count)
        self._tokens: dict[str, tuple[int, int]] = {}  # key id → (window, tokens)
        self._spend: dict[tuple[str, str], list[float]] = {}  # (key id, period) → [spent, reserved]

    def _count(self, table: dict[str, tuple[int, int]], key_id: str, window: int) -> int:
        entry = table.get(key_id)
        return entry[1] if entry is not None and entry[0] == window else 0

    def check(self, key: ClientKey, estimate: float = 0.0, now: float | None = None) -> Decision:
        """Admit or refuse now; an admitted request is counted (and its estimate reserved).
        (Inlined lookups: this runs for every keyed request.)"""
        if key.rpm is None and key.tpm is None and key.budget is None:
            return ADMITTED_FREELY
        now = time.time() if now is None else now
        window = int(now // 60.0)
        kid = key.id
        entry = self._requests.get(kid)
        requests = entry[1] if entry is not None and entry[0] == window else 0
        entry = self._tokens.get(kid)
        tokens = entry[1] if entry is not None and entry[0] == window else 0
        if key.rpm is not None and requests >= key.rpm:
            return refuse(key, "rate_limit_requests", requests, tokens, now)
        if key.tpm is not None and tokens >= key.tpm:
            return refuse(key, "rate_limit_tokens", requests, tokens, now)
        period = None
        if key.budget is not None and key.period is not None:
            period = period_id(key.period, now)
            spend = self._spend.get((kid, period))
            if spend is None:
                spend = self._spend[(kid, period)] = [0.0, 0.0]
            if spend[0] + spend[1] >= key.budget:
                return refuse(key, "insufficient_quota", requests, tokens, now)
            spend[1] += estimate
        requests += 1
        self._requests[kid] = (window, requests)
        return Decision(None, None, rate_headers(key, requests, tokens, now), kid, period, estimate)

    def settle(self, decision: Decision, tokens: int | None, cost: float | None, now: float | None = None) -> None:
        """The call has ended: count its real tokens, release its reservation, add its real cost."""
        if not decision.key_id or decision.refusal is not None:
            return
        now = time.time() if now is None else now
        if tokens:
            window = minute(now)
            self._tokens[decision.key_id] = (window, self._count(self._tokens, decision.key_id, window) + tokens)
        if decision.period is not None:
            spend = self._spend.setdefault((decision.key_id, decision.period), [0.0, 0.0])
            spend[1] = max(0.0, spend[1] - decision.reserved)
            spend[0] += cost or 0.0

    def seed_now(self, key: ClientKey, spent: float, now: float | None = None) -> None:
        """What the ledger says `key` spent this period, unless this process already counts it."""
        if key.budget is None or key.period is None:
            return
        now = time.time() if now is None else now
        self._spend.setdefault((key.id, period_id(key.period, now)), [spent, 0.0])

    def spent(self, key: ClientKey, now: float | None = None) -> float:
        """Spent plus reserved this period, as this process counts it."""
        if key.period is None:
            return 0.0
        s = self._spend.get((key.id, period_id(key.period, time.time() if now is None else now)))
        return s[0] + s[1] if s else 0.0

    # -- the `Limiter` interface `SharedLimiter` also has ---------------------------------------

    async def admit(self, key: ClientKey, estimate: float = 0.0) -> Decision:
        return self.check(key, estimate)

    async def seed(self, key: ClientKey, spent: float) -> None:
        self.seed_now(key, spent)

    async def revoke(self, key_id: str) -> None:
        """Nothing to share: the process's key table drops the key when it reloads."""

    def status(self) -> dict[str, str]:
        return {"backend": "local"}

    async def aclose(self) -> None:
        pass
