"""The order of one request's attempts: failover first, retry last.

The first lap tries each candidate once, in `llms.json` order; a retryable failure moves on
at once. Only when every candidate of a lap has had its turn does the next lap start, with
the providers worth asking again (`retry.repeatable`, at most `retries.max` more times each):
each waits for its backoff or its `Retry-After` (one longer than `retries.max_wait` drops it),
counted from its own failure, so the one ready soonest goes first — in lap order when the
waits are equal (the backoff's random share is drawn once per request). A provider that timed
out goes after the others: a timeout is the most expensive failure, and is never repeated
while another candidate remains in the lap.

A provider with `"retries": {"first": true}` keeps the older order: its retries come right
after its failure, before the next candidate (except after a timeout when another remains).
A single-candidate alias behaves the same either way.

Skipping (open breaker, concurrency cap) and the time budget stay with the router; this
module only says which lane is next and from when it may start.
"""

from __future__ import annotations

import asyncio
import random

from ..core.errors import UpstreamError, UpstreamTimeout
from .lanes import Lane


class Laps:
    """`next()` gives the lanes to try in order (and sets `start_at`); `failed()` plans the
    next turn of a lane whose attempt failed with a retryable error."""

    __slots__ = ("start_at", "_queue", "_ready", "_pos", "_later", "_retries", "_jitter")

    def __init__(self, lanes: list[Lane]) -> None:
        self.start_at = 0.0  # loop time the lane from `next()` may start at (0: at once)
        self._queue = lanes  # this lap, in order (the table's own list until a change)
        self._ready: list[float] | None = None  # when each of `_queue` may start (None: at once)
        self._pos = 0
        self._later: list[tuple[bool, float, Lane]] = []  # next lap: (timed out, ready at, lane)
        self._retries: dict[Lane, int] = {}
        self._jitter = -1.0

    def next(self) -> Lane | None:
        """The next lane to try, or None when none is left."""
        while self._pos >= len(self._queue):
            if not self._later:
                return None
            self._later.sort(key=_turn)
            self._queue = [lane for _, _, lane in self._later]
            self._ready = [at for _, at, _ in self._later]
            self._later = []
            self._pos = 0
        i = self._pos
        self._pos = i + 1
        self.start_at = self._ready[i] if self._ready is not None else 0.0
        return self._queue[i]

    def failed(self, lane: Lane, error: UpstreamError) -> None:
        """`lane`'s attempt failed with a retryable `error`: when (if ever) to ask it again."""
        policy = lane.state.retry
        done = self._retries.get(lane, 0)
        if self._jitter < 0:
            self._jitter = random.random()
        delay = policy.delay(error, done, self._jitter)
        if delay is None:
            return
        self._retries[lane] = done + 1
        # (+20 ms: past the breaker's Retry-After hold, so the retry is its probe)
        at = asyncio.get_running_loop().time() + delay + (0.02 if error.retry_after else 0.0)
        timed_out = isinstance(error, UpstreamTimeout)
        if policy.first and not (timed_out and self._others_remain(lane)):
            self._insert(lane, at)
        else:
            self._later.append((timed_out, at, lane))

    def _others_remain(self, lane: Lane) -> bool:
        return any(other is not lane for other in self._queue[self._pos :]) or bool(self._later)

    def _insert(self, lane: Lane, at: float) -> None:
        """Make `lane` the next of this lap."""
        ready = self._ready if self._ready is not None else [0.0] * len(self._queue)
        self._queue = [*self._queue[: self._pos], lane, *self._queue[self._pos :]]
        self._ready = [*ready[: self._pos], at, *ready[self._pos :]]


def _turn(entry: tuple[bool, float, Lane]) -> tuple[bool, float]:
    """Order within a later lap: timed-out providers last, then the one ready soonest."""
    return entry[0], entry[1]
