"""Fixtures for the ledger wiring tests: a real gateway (two providers on the fake upstream)
whose ledger is a SQLite file in its home, and a reader that waits for records to land."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llms.usage.record import COLUMNS, UsageRecord, from_row

from ..conftest import two_provider_config
from ..fake_upstream import FakeUpstream
from ..gateway_proc import GatewayProcess

ENV = {"LLMS_TEST_SECONDARY_KEY": "sk-secondary-secret", "LLMS_TEST_UNSET_KEY": "", "LLMS_DATABASE_URL": ""}


def read_records(db: Path) -> list[UsageRecord]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM requests ORDER BY created").fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        conn.close()
    return [from_row(r) for r in rows]


class Ledger:
    """Reads the gateway's usage.db; `wait_for(ids)` returns those records once all are stored
    (the writer commits every 0.25 s)."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def all(self) -> list[UsageRecord]:
        return read_records(self.db)

    def wait_for(self, *ids: str, timeout: float = 10.0) -> list[UsageRecord]:
        end = time.monotonic() + timeout
        while True:
            found = {r.id: r for r in self.all()}
            if all(i in found for i in ids) or time.monotonic() > end:
                missing = [i for i in ids if i not in found]
                assert not missing, f"records never stored: {missing}"
                return [found[i] for i in ids]
            time.sleep(0.05)

    def one(self, rid: str) -> UsageRecord:
        (rec,) = self.wait_for(rid)
        return rec


@pytest.fixture(scope="module")
def ledger_gateway(upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(two_provider_config(upstream), env=ENV).start()
    yield gw
    gw.stop()


@pytest.fixture
def ledger(ledger_gateway: GatewayProcess) -> Ledger:
    return Ledger(ledger_gateway.home / "usage.db")
