"""The write side every sink shares: a bounded in-memory queue that `submit` appends to, and a
writer thread that takes it in batches of up to `batch_size` records, at least every `interval`
seconds (the most a `kill -9` can lose; see docs/usage.md). A backend supplies `_open` and
`_cycle`: what the writer does with what is queued."""

from __future__ import annotations

import asyncio
import logging
import threading
from abc import ABC, abstractmethod
from collections import deque
from typing import Any, TypedDict, Unpack

from .record import UsageRecord, to_row
from .sink import SinkStats

log = logging.getLogger("llms.usage")


class Batching(TypedDict, total=False):
    """How a sink batches: at most `batch_size` records per write, a write at least every
    `interval` seconds, at most `max_queue` records waiting in memory."""

    batch_size: int
    interval: float
    max_queue: int


class BatchWriter(ABC):
    """`submit` is called from the event loop thread: a length check and a deque append, and a
    wake-up only when a full batch is waiting (otherwise the writer's timer picks it up)."""

    def __init__(self, **batching: Unpack[Batching]) -> None:
        self.batch_size = batching.get("batch_size", 1000)
        self.interval = batching.get("interval", 0.25)
        self.max_queue = batching.get("max_queue", 100_000)
        # records, and flush markers (threading.Event) set once everything before them is stored
        self._queue: deque[UsageRecord | threading.Event] = deque()
        self._wake = threading.Event()
        self._closed = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"llms-usage-{type(self).__name__}", daemon=True)
        self.written = self.failed = self.dropped = 0

    # -- caller side ---------------------------------------------------------------------------

    def submit(self, record: UsageRecord) -> None:
        queue = self._queue
        if self._closed or len(queue) >= self.max_queue:
            self.dropped += 1  # logged by the writer (or at close), never here: no I/O inline
            return
        queue.append(record)
        if len(queue) >= self.batch_size:
            self._wake.set()

    def flush(self, timeout: float = 30.0) -> bool:
        if not self._thread.is_alive():
            return not self._queue
        marker = threading.Event()
        self._queue.append(marker)
        self._wake.set()
        return marker.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        self._closed = True
        if self._thread.is_alive():
            self._stopping = True
            self._wake.set()
            self._thread.join(timeout)
        left = sum(1 for item in self._queue if not isinstance(item, threading.Event))
        if left:
            self._queue.clear()
            self.dropped += left
            log.error("usage: %d records still queued at close were not stored", left)

    async def aclose(self) -> None:
        self._closed = True  # before leaving the loop thread: later submits count as dropped
        await asyncio.to_thread(self.close)

    def stats(self) -> SinkStats:
        queued = sum(1 for item in list(self._queue) if not isinstance(item, threading.Event))
        return SinkStats(queued, self.written, self.failed, self.dropped, self._spooled())

    # -- writer side ---------------------------------------------------------------------------

    def _start_thread(self, timeout: float = 30.0) -> None:
        """Start the writer and wait (bounded) until its `_open` has run."""
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait(timeout)

    def _run(self) -> None:
        try:
            self._open()
        except Exception:
            log.exception("usage: writer failed to start")
        finally:
            self._ready.set()
        reported_drops = 0
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            final = self._stopping
            try:
                self._cycle(final)
            except Exception:  # a writer that dies would silently stop the ledger
                log.exception("usage: writer cycle failed")
            if self.dropped != reported_drops:
                log.error("usage: %d records dropped so far (queue full at %d)", self.dropped, self.max_queue)
                reported_drops = self.dropped
            if final:
                break
        self._close_writer()

    def _take(self, n: int) -> tuple[list[UsageRecord], list[threading.Event]]:
        """Up to `n` records from the head of the queue, stopping after a flush marker (set it
        once those records are stored)."""
        records: list[UsageRecord] = []
        markers: list[threading.Event] = []
        queue = self._queue
        while queue and len(records) < n:
            item = queue.popleft()
            if isinstance(item, threading.Event):
                markers.append(item)
                break
            records.append(item)
        return records, markers

    def _rows(self, records: list[UsageRecord]) -> tuple[list[UsageRecord], list[tuple[Any, ...]]]:
        """The records as rows, leaving out (counted, logged) any that cannot be one — say,
        content that is not JSON — so one bad record never costs its batch."""
        kept: list[UsageRecord] = []
        rows: list[tuple[Any, ...]] = []
        for r in records:
            try:
                rows.append(to_row(r))
                kept.append(r)
            except (TypeError, ValueError) as e:
                self.failed += 1
                log.error("usage: record %s not stored: %s", getattr(r, "id", r), e)
        return kept, rows

    def _lost(self, records: list[UsageRecord], error: BaseException) -> None:
        """A batch that failed in a way we did not foresee: counted and logged, never silent."""
        self.failed += len(records)
        log.error("usage: %d records not stored: %r", len(records), error, exc_info=error)

    def _flush_requested(self) -> bool:
        return any(isinstance(item, threading.Event) for item in list(self._queue))

    def _spooled(self) -> int:
        return 0

    def _open(self) -> None:  # noqa: B027 - optional hook
        """First thing on the writer thread (connect, say)."""

    @abstractmethod
    def _cycle(self, final: bool) -> None:
        """Store (or set aside) what is queued; with `final`, everything."""

    @abstractmethod
    def _close_writer(self) -> None:
        """Release the writer's connection; runs on the writer thread."""
