"""Stateless replicas on one PostgreSQL (ledger and client keys) and one Redis (limits) behind a
real nginx: a key's RPM limit holds across both replicas exactly, and Redis is a required
backend of `/health/ready` (down beyond `health.grace`: 503; back: ready)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import httpx
import pytest

from tests.fault import faults as f
from tests.gateway_proc import GatewayProcess
from tests.keys.conftest import start_redis
from tests.keys.gateway_keys import ADMIN_KEY, create_key
from tests.usage.conftest import fresh_database, start_postgres

from .conftest import config, wait_until
from .nginx_proc import Nginx, nginx_binary

ENV = {"LLMS_ADMIN_KEY": ADMIN_KEY, "LLMS_DATABASE_URL": ""}


@pytest.fixture
def stack(upstream) -> Iterator[tuple[GatewayProcess, GatewayProcess, str, object]]:
    pg, redis = start_postgres(), start_redis()
    try:
        dsn = fresh_database(pg)
        upstream.on("rpm-a", "m", f.echo())
        upstream.on("rpm-b", "m", f.echo())
        extra = {
            "usage": {"dsn": dsn},
            "auth": {"required": True, "admin_key": "$LLMS_ADMIN_KEY"},
            "limits": {"redis_url": redis.url},
            "health": {"grace": 1, "interval": 0.2},
        }
        a = GatewayProcess(config(upstream, "rpm-a", "m", **extra), env=ENV).start()
        b = GatewayProcess(config(upstream, "rpm-b", "m", **extra), env=ENV).start()
        yield a, b, dsn, redis
        for gw in (a, b):
            gw.stop(timeout=20)
    finally:
        redis.destroy()
        pg.destroy()


async def statuses(url: str, key: str, n: int) -> list[int]:
    body = {"model": "m", "messages": [{"role": "user", "content": "m#0"}]}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as s:

        async def one() -> int:
            async with s.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}) as r:
                await r.read()
                return r.status

        return list(await asyncio.gather(*(one() for _ in range(n))))


def ready(url: str) -> tuple[int, dict]:
    r = httpx.get(url + "/health/ready", timeout=5)
    return r.status_code, r.json()


@pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (scripts/setup.d/60-nginx.sh)")
async def test_an_rpm_limit_holds_across_two_replicas_behind_nginx_exactly(stack):
    a, b, _, _ = stack
    key = await asyncio.to_thread(create_key, a.url, "twenty-a-minute", rpm=20)
    while 60 - time.time() % 60 < 15:  # the probe and the burst stay inside one minute's window
        await asyncio.sleep(0.5)
    # b learns the key from the shared table within its poll; asking it directly spends one request
    end = time.monotonic() + 10
    while (await statuses(b.url, key, 1))[0] == 401:
        assert time.monotonic() < end
        await asyncio.sleep(0.05)
    proxy = Nginx([a.port, b.port]).start()
    try:
        got = await statuses(proxy.url, key, 40)
    finally:
        proxy.stop()
    assert got.count(200) == 19 and got.count(429) == 21, sorted(got)


def test_redis_down_beyond_the_grace_makes_replicas_unready(stack):
    a, b, _, redis = stack
    for gw in (a, b):
        status, body = ready(gw.url)
        assert status == 200 and body["checks"] == {"postgresql": "ok", "redis": "ok"}, body
    redis.stop()
    for gw in (a, b):
        assert wait_until(lambda gw=gw: ready(gw.url)[0] == 503, 10), ready(gw.url)
        assert ready(gw.url)[1]["reason"].startswith("redis unreachable for")
    redis.start()
    for gw in (a, b):
        assert wait_until(lambda gw=gw: ready(gw.url)[0] == 200, 15), ready(gw.url)
