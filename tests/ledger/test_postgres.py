"""The ledger on PostgreSQL through a real gateway: records land in the database, and a
PostgreSQL stopped mid-load and restarted loses nothing and slows no request."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx
import pytest

from .. import fake_upstream as fu
from ..conftest import two_provider_config
from ..gateway_proc import GatewayProcess
from ..test_failover import MSG
from ..usage.conftest import fresh_database, start_postgres
from .conftest import ENV


def stored_ids(dsn: str) -> set[str]:
    async def fetch() -> set[str]:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return {r["id"] for r in await conn.fetch("SELECT id FROM requests")}
        finally:
            await conn.close()

    return asyncio.run(fetch())


def timed_ask(gw: GatewayProcess) -> tuple[str, float]:
    start = time.monotonic()
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "chat", "messages": MSG}, timeout=30)
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"], time.monotonic() - start


@pytest.fixture
def pg():
    server = start_postgres()
    yield server
    server.destroy()


def test_postgres_outage_mid_load_loses_nothing_and_slows_nothing(upstream, pg):
    upstream.on("primary", "p-chat", fu.reply("fine"))
    dsn = fresh_database(pg)
    gw = GatewayProcess(two_provider_config(upstream), env={**ENV, "LLMS_DATABASE_URL": dsn}).start()
    results: list[tuple[str, float]] = []
    try:
        with ThreadPoolExecutor(8) as pool:
            results += pool.map(lambda _: timed_ask(gw), range(40))
            pg.stop()
            results += pool.map(lambda _: timed_ask(gw), range(80))  # while PostgreSQL is down
            pg.start()
            results += pool.map(lambda _: timed_ask(gw), range(40))
        ids = {rid for rid, _ in results}
        end = time.monotonic() + 30
        while not ids <= stored_ids(dsn) and time.monotonic() < end:
            time.sleep(0.2)
    finally:
        gw.stop()
    assert len(ids) == 160
    assert ids <= stored_ids(dsn), f"lost: {len(ids - stored_ids(dsn))}"
    slowest = max(seconds for _, seconds in results)
    assert slowest < 2.0, f"a request took {slowest:.2f}s while PostgreSQL was down"


def test_sigterm_during_outage_spools_then_replays(upstream, pg):
    upstream.on("primary", "p-chat", fu.reply("fine"))
    dsn = fresh_database(pg)
    home_env = {**ENV, "LLMS_DATABASE_URL": dsn}
    gw = GatewayProcess(two_provider_config(upstream), env=home_env).start()
    pg.stop()
    try:
        ids = [timed_ask(gw)[0] for _ in range(20)]
    finally:
        assert gw.stop() == 0
    assert (gw.home / "usage-spool.jsonl").exists() or (gw.home / "usage-spool.jsonl.replaying").exists()
    pg.start()
    again = GatewayProcess(two_provider_config(upstream), env=home_env, home=gw.home).start()
    try:
        end = time.monotonic() + 30
        while not set(ids) <= stored_ids(dsn) and time.monotonic() < end:
            time.sleep(0.2)
    finally:
        again.stop()
    assert set(ids) <= stored_ids(dsn)
