"""Circuit breakers: stop sending requests to a provider (or one provider+model) that keeps
failing, for a cooldown, then let a single probe through.

    closed ──(N consecutive failures, or error rate ≥ R over ≥ M requests in W s)──> open
    open ──(cooldown over)──> half-open: one probe request passes, the rest skip
    half-open ──probe succeeds──> closed          half-open ──probe fails──> open (cooldown ×2)
    any ──401 / 403──> disabled until the config changes (a reload builds new breakers)

A `Retry-After` from a 429/503 opens the breaker for that long (a "hold"), so other requests
skip the provider instead of hitting the same limit.

The success path is two attribute writes and no clock read, lock or log: the window's
counts are only rolled over (and the clock read) when a failure arrives.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("llms.breaker")

CLOSED, OPEN, HALF_OPEN, DISABLED = "closed", "open", "half-open", "disabled"
MAX_HOLD = 3600.0  # the longest a Retry-After holds a provider (the transport caps it too)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens, and for how long (seconds)."""

    enabled: bool = True
    failures: int = 5  # consecutive failures that open it
    error_rate: float = 0.5  # … or this share of failures
    min_requests: int = 20  # … over at least this many requests
    window: float = 60.0  # … within this many seconds
    cooldown: float = 30.0  # how long it stays open before a probe
    max_cooldown: float = 300.0  # each failed probe doubles the cooldown, up to this


class Breaker:
    """One breaker. `allow()` before an attempt; then exactly one of `success()`,
    `failure(reason)`, `disable(reason)` or `release()` (no verdict: cancelled, budget)."""

    __slots__ = (
        "name",
        "policy",
        "state",
        "consecutive",
        "ok",
        "failed",
        "window_start",
        "open_until",
        "cooldown",
        "probing",
        "reason",
        "limited",
    )

    def __init__(self, name: str, policy: BreakerPolicy) -> None:
        self.name = name
        self.policy = policy
        self.state = CLOSED
        self.consecutive = 0
        self.ok = 0
        self.failed = 0
        self.window_start = 0.0
        self.open_until = 0.0
        self.cooldown = policy.cooldown
        self.probing = False
        self.reason = ""
        self.limited = False  # open because the provider said 429 + Retry-After

    def allow(self) -> bool:
        """May a request go now? In half-open state the caller that gets True is the probe."""
        state = self.state
        if state is CLOSED:
            return True
        if state is DISABLED or self.probing:
            return False
        if state is OPEN:
            if time.monotonic() < self.open_until:
                return False
            self.state = HALF_OPEN
            log.info("breaker %s: half-open, sending one probe", self.name)
        self.probing = True
        return True

    def success(self) -> None:
        self.consecutive = 0
        self.ok += 1
        if self.state is not CLOSED and self.probing:
            self._close()

    def failure(self, reason: str, *, limited: bool = False) -> None:
        """A failed attempt; `limited`: it was a rate limit (429)."""
        now = time.monotonic()
        if now - self.window_start > self.policy.window:
            self.window_start, self.ok, self.failed = now, 0, 0
        self.failed += 1
        self.consecutive += 1
        self.reason = reason
        if self.state is HALF_OPEN and self.probing:
            self._open(now, min(self.cooldown * 2, self.policy.max_cooldown), "the probe failed", limited)
        elif self.state is CLOSED:
            p = self.policy
            seen = self.ok + self.failed
            if self.consecutive >= p.failures:
                self._open(now, p.cooldown, f"{self.consecutive} consecutive failures", limited)
            elif seen >= p.min_requests and self.failed >= p.error_rate * seen:
                self._open(now, p.cooldown, f"{self.failed} of {seen} requests failed", limited)

    def hold(self, seconds: float, reason: str, *, limited: bool = False) -> None:
        """The provider asked us to wait (`Retry-After`): open for that long. `limited`:
        it was a rate limit (429), so skipping it is the client's 429, not a 503."""
        if self.state is DISABLED or not seconds > 0:  # (also not NaN)
            return
        seconds = min(seconds, MAX_HOLD)
        now = time.monotonic()
        self.reason = reason
        self.limited = limited
        if self.state is not OPEN or now + seconds > self.open_until:
            self.probing = False
            self.state = OPEN
            self.open_until = now + seconds
            log.warning("breaker %s: holding for %.1fs (Retry-After): %s", self.name, seconds, reason)

    def disable(self, reason: str) -> None:
        if self.state is not DISABLED:
            self.state, self.probing, self.reason = DISABLED, False, reason
            log.error("breaker %s: disabled until the config changes: %s", self.name, reason)

    def release(self) -> None:
        """The attempt ended without telling us anything about the provider."""
        if self.probing and self.state is HALF_OPEN:
            self.probing = False

    def _open(self, now: float, cooldown: float, why: str, limited: bool) -> None:
        self.state, self.probing, self.cooldown, self.limited = OPEN, False, cooldown, limited
        self.open_until = now + cooldown
        log.warning("breaker %s: open for %gs (%s; last: %s)", self.name, cooldown, why, self.reason)

    def _close(self) -> None:
        self.state, self.probing, self.consecutive = CLOSED, False, 0
        self.cooldown = self.policy.cooldown
        self.ok, self.failed, self.window_start = 0, 0, time.monotonic()
        log.warning("breaker %s: closed again (probe succeeded)", self.name)

    # -- reporting ---------------------------------------------------------------------------

    def wait(self) -> float | None:
        """Seconds until this breaker lets a probe through (None: never, or not open)."""
        if self.state is OPEN:
            return max(0.0, self.open_until - time.monotonic())
        return None

    def refusal(self) -> str:
        """Why `allow()` said no, for the client's error message."""
        if self.state is DISABLED:
            return f"disabled until the config changes ({self.reason})"
        if self.state is HALF_OPEN:
            return "circuit half-open, a probe is in flight"
        return f"circuit open for {math.ceil(self.wait() or 0)}s more (last failure: {self.reason})"

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "consecutive_failures": self.consecutive}
        if self.state is OPEN:
            out["retry_in"] = round(self.wait() or 0.0, 1)
        if self.reason:
            out["last_failure"] = self.reason
        return out
