"""Trying a provider again: how many times, how long to wait, and which failures are worth
repeating at the same provider.

`core.errors.is_retryable` stays the one predicate for "may another attempt succeed"; this
module only narrows it for the *same* provider: a transient failure (connection, timeout,
408/409/429/5xx — Anthropic's 529 and Gemini's RESOURCE_EXHAUSTED arrive here as 529 and 429)
may be repeated, while a bad key, a missing model or a malformed answer (401/403/404, protocol
errors) is not — asking the same provider again would get the same answer.

When the repeat happens is `laps.py`'s business: by default only after every other candidate
has had its turn (failover first, retry last); with `first` right away, before moving on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..core.errors import UpstreamConnectionError, UpstreamError, UpstreamStatusError, UpstreamTimeout

# Statuses where the same provider may well answer the next time.
TRANSIENT_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max` repeats per provider per request (0: each provider is tried once); backoff
    `base_delay * 2**n` capped at `max_delay`, with jitter; a `Retry-After` longer than
    `max_wait` is not waited for — the provider is not asked again in this request.
    `first`: repeat at this provider before failing over (waits instead of paying the next)."""

    max: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 20.0
    first: bool = False

    def delay(self, error: UpstreamError, retries_done: int, jitter: float | None = None) -> float | None:
        """Seconds to wait before asking the same provider again, or None to not ask it
        again. `jitter` (0…1) is the random share of the backoff; the router passes one per
        request so that providers with the same policy stay in their order."""
        if retries_done >= self.max or not repeatable(error):
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_wait else None
        # "Equal jitter": half the exponential step, plus a random half — spreads a burst
        # of retries without ever retrying at once.
        step = min(self.max_delay, self.base_delay * (2**retries_done))
        return step / 2 + (random.random() if jitter is None else jitter) * step / 2


def repeatable(error: UpstreamError) -> bool:
    """True when asking the same provider again may succeed."""
    if isinstance(error, UpstreamStatusError):
        return error.retryable and (error.upstream_status in TRANSIENT_STATUSES or error.upstream_status >= 500)
    return isinstance(error, (UpstreamConnectionError, UpstreamTimeout))
