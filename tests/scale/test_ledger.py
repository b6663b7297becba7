"""The scale-out parts that meet the ledger (issue 11): PostgreSQL as a required backend of
`/health/ready`; every request through nginx to two replicas stored exactly once in the shared
PostgreSQL ledger, with one replica drained mid-load; `--workers 2` sharing one SQLite ledger."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from tests.fault import faults as f
from tests.fault.client import ANSWERED
from tests.gateway_proc import GatewayProcess
from tests.ledger.conftest import read_records
from tests.ledger.test_postgres import stored_ids
from tests.usage.conftest import fresh_database, start_postgres

from .conftest import config, in_flight, pids_seen, wait_until
from .nginx_proc import Nginx, nginx_binary
from .test_nginx import load
from .test_workers import streams

NO_ENV_DSN = {"LLMS_DATABASE_URL": ""}


@pytest.fixture
def pg():
    server = start_postgres()
    yield server
    server.destroy()


def ready(gw: GatewayProcess) -> tuple[int, dict]:
    r = httpx.get(gw.url + "/health/ready", timeout=5)
    return r.status_code, r.json()


def test_postgres_down_beyond_the_grace_makes_the_replica_unready_and_back(upstream, pg):
    upstream.on("pgr-a", "pgr", f.echo())
    dsn = fresh_database(pg)
    cfg = config(upstream, "pgr-a", "pgr", usage={"dsn": dsn}, health={"grace": 1, "interval": 0.2})
    gw = GatewayProcess(cfg, env=NO_ENV_DSN).start()
    try:
        assert wait_until(lambda: ready(gw)[0] == 200)
        assert ready(gw)[1]["checks"] == {"postgresql": "ok"}
        pg.stop()
        assert wait_until(lambda: ready(gw)[0] == 503, 10), ready(gw)
        status, body = ready(gw)
        assert body["reason"].startswith("postgresql unreachable for") and body["checks"]["postgresql"].startswith(
            "failing: "
        )
        assert httpx.get(gw.url + "/health", timeout=5).status_code == 200  # alive: no restart
        r = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "pgr", "messages": [{"role": "user", "content": "x"}]},
            timeout=10,
        )
        assert r.status_code == 200  # still serving: the record waits for PostgreSQL
        pg.restart()
        assert wait_until(lambda: ready(gw)[0] == 200, 15), ready(gw)
        assert wait_until(lambda: r.headers["x-request-id"] in stored_ids(dsn), 15)
    finally:
        assert gw.stop(timeout=20) == 0


@pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (scripts/setup.d/60-nginx.sh)")
async def test_every_request_through_nginx_is_stored_exactly_once_in_the_shared_ledger(upstream, pg):
    upstream.on("led-a", "m", f.echo(delay=0.1))
    upstream.on("led-b", "m", f.echo(delay=0.1))
    dsn = await asyncio.to_thread(fresh_database, pg)
    a = GatewayProcess(config(upstream, "led-a", "m", usage={"dsn": dsn}), env=NO_ENV_DSN).start()
    b = GatewayProcess(config(upstream, "led-b", "m", usage={"dsn": dsn}), env=NO_ENV_DSN).start()
    proxy = Nginx([a.port, b.port]).start()
    try:
        task = asyncio.create_task(load(proxy.url, 5.0))
        assert await asyncio.to_thread(wait_until, lambda: in_flight(a.url) > 0, 10)
        a.proc.send_signal(signal.SIGTERM)  # drained mid-load: its records are flushed on the way out
        results = await task
        assert await asyncio.to_thread(a.proc.wait, 20) == 0
        assert all(r.outcome.kind == ANSWERED for r in results), [r.outcome.detail for r in results]
        ids = [r.outcome.headers["x-request-id"] for r in results]
        assert len(set(ids)) == len(ids) and {r.replica for r in results} == {"led-a", "led-b"}
        end = time.monotonic() + 15
        while set(ids) - await asyncio.to_thread(stored_ids, dsn) and time.monotonic() < end:
            await asyncio.sleep(0.2)
        assert await asyncio.to_thread(stored_ids, dsn) == set(ids)  # none missing, none extra (nginx replayed nothing)
    finally:
        proxy.stop()
        for gw in (a, b):
            gw.stop(timeout=20)


async def test_two_workers_share_one_sqlite_ledger(upstream, tmp_path):
    upstream.on("wl-a", "wl", f.echo())
    gw = GatewayProcess(config(upstream, "wl-a", "wl"), env=NO_ENV_DSN, args=["--workers", "2"]).start()
    try:
        await asyncio.to_thread(pids_seen, gw.url, 2)
        outcomes = await streams(gw.url, "wl", 20)
        assert all(o.kind == ANSWERED for o in outcomes)
        ids = {o.headers["x-request-id"] for o in outcomes}
    finally:
        assert gw.stop(timeout=20) == 0  # both workers flush their records on the way out
    assert {r.id for r in read_records(gw.home / "usage.db")} == ids


@pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (scripts/setup.d/60-nginx.sh)")
async def test_kill_9_of_a_replica_loses_at_most_its_last_second_of_records(upstream, pg):
    """docs/usage.md: kill -9 loses the records of the last uncommitted batch (≤ ~1 s) and of
    the requests the process held; the other replica's records are all stored."""
    upstream.on("k9-a", "m", f.echo(delay=0.2))
    upstream.on("k9-b", "m", f.echo(delay=0.2))
    dsn = await asyncio.to_thread(fresh_database, pg)
    a = GatewayProcess(config(upstream, "k9-a", "m", usage={"dsn": dsn}), env=NO_ENV_DSN).start()
    b = GatewayProcess(config(upstream, "k9-b", "m", usage={"dsn": dsn}), env=NO_ENV_DSN).start()
    proxy = Nginx([a.port, b.port]).start()
    try:
        task = asyncio.create_task(load(proxy.url, 6.0))
        await asyncio.sleep(2.5)
        assert await asyncio.to_thread(wait_until, lambda: in_flight(a.url) > 0, 10)
        killed = time.monotonic()
        a.proc.kill()
        results = await task
        answered = [r for r in results if r.outcome.kind == ANSWERED]
        by_b = {r.outcome.headers["x-request-id"] for r in answered if r.replica == "k9-b"}
        old_a = {r.outcome.headers["x-request-id"] for r in answered if r.replica == "k9-a" and r.end < killed - 1.5}
        all_ids = {r.outcome.headers.get("x-request-id") for r in results}
        assert by_b and old_a
        end = time.monotonic() + 15
        while by_b - await asyncio.to_thread(stored_ids, dsn) and time.monotonic() < end:
            await asyncio.sleep(0.2)
        stored = await asyncio.to_thread(stored_ids, dsn)
        assert by_b <= stored and old_a <= stored and stored <= all_ids
    finally:
        proxy.stop()
        for gw in (a, b):
            gw.stop(timeout=20)
