"""Where PostgreSQL-bound records wait while PostgreSQL is unreachable: JSON lines in a local
file (next to the SQLite db by default). Only the sink's writer thread touches it. Replay
renames the file first, so records spilled during a replay go to a fresh file; an interrupted
replay resumes after the lines it had stored (from the start in a new process: inserts ignore
ids already stored)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from .record import UsageRecord, from_json_line, to_json_line

log = logging.getLogger("llms.usage")


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for _ in f)


class Spool:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self.replaying = self.path.with_name(self.path.name + ".replaying")
        self.count = _count_lines(self.path) + _count_lines(self.replaying)
        self._unreadable = 0  # lines of the replaying file that were not a record (a cut-short write)
        self._stored = 0  # leading lines of the replaying file known stored
        self._pending = 0  # lines read into the batch handed out last
        self._pending_unreadable = 0

    def append(self, records: list[UsageRecord]) -> int:
        """Write and fsync the records: once this returns they survive a crash. Returns how many
        could not be written as JSON (logged; the caller counts them)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for r in records:
            try:
                lines.append(to_json_line(r))
            except TypeError as e:
                log.error("usage: record %s not spooled: %s", r.id, e)
        data = b"".join(lines)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.count += len(lines)
        return len(records) - len(lines)

    def has_records(self) -> bool:
        return self.count > 0 or self.replaying.exists() or self.path.exists()

    def batches(self, size: int) -> Iterator[list[UsageRecord]]:
        """The spooled records in batches; after storing each the caller calls `stored()`,
        and `done()` after the last. A new `append` meanwhile goes to a fresh file."""
        if not self.replaying.exists():
            if not self.path.exists():
                return
            os.replace(self.path, self.replaying)
        batch: list[UsageRecord] = []
        self._pending = self._pending_unreadable = 0
        with self.replaying.open("rb") as f:
            for n, line in enumerate(f, 1):
                if n <= self._stored:
                    continue
                self._pending += 1
                try:
                    batch.append(from_json_line(line))
                except Exception as e:  # noqa: BLE001 - any broken line is counted, not fatal
                    self._pending_unreadable += 1
                    log.error("usage: spool %s line %d unreadable, record lost: %s", self.replaying, n, e)
                if len(batch) >= size:
                    yield batch
                    batch = []
        if self._pending:  # (possibly empty: the last lines were all unreadable)
            yield batch

    def stored(self) -> None:
        """The batch handed out last is stored: a resumed replay starts after it."""
        self._stored += self._pending
        self.count -= self._pending
        self._unreadable += self._pending_unreadable
        self._pending = self._pending_unreadable = 0

    def interrupted(self) -> None:
        """The batch handed out last may not be stored: it is read again next time."""
        self._pending = self._pending_unreadable = 0

    def done(self) -> int:
        """The replayed file is stored: forget it. Returns how many of its lines were lost."""
        self.replaying.unlink(missing_ok=True)
        self._stored = self._pending = 0
        self.count = _count_lines(self.path)
        lost, self._unreadable = self._unreadable, 0
        return lost
