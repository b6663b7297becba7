"""Retrying one provider before moving on: how many times, how long to wait, and which
failures are worth repeating at the same provider.

`core.errors.is_retryable` stays the one predicate for "may another attempt succeed"; this
module only narrows it for the *same* provider: a transient failure (connection, timeout,
408/409/429/5xx — Anthropic's 529 and Gemini's RESOURCE_EXHAUSTED arrive here as 529 and 429)
is repeated, while a bad key, a missing model or a malformed answer (401/403/404, protocol
errors) fails over at once — asking the same provider again would get the same answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..core.errors import UpstreamConnectionError, UpstreamError, UpstreamStatusError, UpstreamTimeout

# Statuses where the same provider may well answer the next time.
TRANSIENT_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max` retries per provider per request (0: each provider is tried once); backoff
    `base_delay * 2**n` capped at `max_delay`, with jitter; a `Retry-After` longer than
    `max_wait` is not waited for — the next provider is tried instead."""

    max: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 20.0

    def delay(self, error: UpstreamError, retries_done: int) -> float | None:
        """Seconds to wait before asking the same provider again, or None to move on."""
        if retries_done >= self.max or not repeatable(error):
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_wait else None
        # "Equal jitter": half the exponential step, plus a random half — spreads a burst
        # of retries without ever retrying at once.
        step = min(self.max_delay, self.base_delay * (2**retries_done))
        return step / 2 + random.uniform(0, step / 2)


def repeatable(error: UpstreamError) -> bool:
    """True when asking the same provider again may succeed."""
    if isinstance(error, UpstreamStatusError):
        return error.retryable and (error.upstream_status in TRANSIENT_STATUSES or error.upstream_status >= 500)
    return isinstance(error, (UpstreamConnectionError, UpstreamTimeout))
